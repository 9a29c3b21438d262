/**
 * Apache Kafka in KRaft combined mode (broker + controller), one node on loopback. Storage is
 * formatted once; the cluster id is kept in `<state>/kafka/cluster-id` so restarts reuse the log.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { logLevel, Kafka } from 'kafkajs';
import type { TributaryConfig } from '../../lib/config.js';
import { ErrorCodes, TributaryError } from '../../lib/errors.js';
import { findJava, type Distributions } from './dist.js';
import type { ProcessSpec } from './process.js';

export function kafkaPaths(stateDir: string) {
  const dir = path.join(stateDir, 'kafka');
  return {
    dir,
    data: path.join(dir, 'data'),
    logs: path.join(dir, 'logs'),
    properties: path.join(dir, 'server.properties'),
    log4j: path.join(dir, 'log4j2.yaml'),
    clusterIdFile: path.join(dir, 'cluster-id'),
    logFile: path.join(dir, 'logs', 'server.log'),
    pidFile: path.join(stateDir, 'run', 'kafka.pid'),
  };
}

/** The broker's server.properties for a single-node KRaft cluster on loopback. */
export function kafkaServerProperties(config: TributaryConfig, dataDir: string): string {
  const { port, controllerPort } = config.kafka;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    // One node: internal topics cannot be replicated.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Tests and the demo create groups often; do not wait 3 s before the first rebalance.
    'group.initial.rebalance.delay.ms=0',
    // Topics are provisioned explicitly from config.
    'auto.create.topics.enable=false',
    'log.retention.check.interval.ms=60000',
    '',
  ].join('\n');
}

const LOG4J2 = `Configuration:
  status: warn
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka
        level: INFO
      - name: org.apache.kafka
        level: INFO
      - name: state.change.logger
        level: WARN
      - name: kafka.request.logger
        level: WARN
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
`;

/**
 * Writes the config and formats the storage on first use. Returns the process to start.
 */
export function prepareKafka(config: TributaryConfig, dist: Distributions): ProcessSpec {
  const p = kafkaPaths(config.stateDir);
  mkdirSync(p.data, { recursive: true });
  mkdirSync(p.logs, { recursive: true });
  writeFileSync(p.properties, kafkaServerProperties(config, p.data));
  writeFileSync(p.log4j, LOG4J2);
  const java = findJava(17);
  if (!java) {
    throw new TributaryError(ErrorCodes.STACK_START_FAILED, 'kafka: no Java 17+ found (set JAVA_HOME)');
  }
  const classpath = path.join(dist.kafkaLibs, '*');
  const common = [`-Dlog4j2.configurationFile=${p.log4j}`, `-Dkafka.logs.dir=${p.logs}`];
  if (!existsSync(path.join(p.data, 'meta.properties'))) {
    let clusterId = existsSync(p.clusterIdFile) ? readFileSync(p.clusterIdFile, 'utf8').trim() : '';
    if (!clusterId) {
      clusterId = execFileSync(
        java,
        ['-cp', classpath, ...common, 'kafka.tools.StorageTool', 'random-uuid'],
        {
          encoding: 'utf8',
        },
      )
        .trim()
        .split('\n')
        .pop()!
        .trim();
      writeFileSync(p.clusterIdFile, `${clusterId}\n`);
    }
    // A fresh single-voter KRaft quorum (dynamic quorum, `controller.quorum.bootstrap.servers`).
    execFileSync(
      java,
      [
        '-cp',
        classpath,
        ...common,
        'kafka.tools.StorageTool',
        'format',
        '--standalone',
        '-t',
        clusterId,
      ].concat(['-c', p.properties]),
      { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
    );
  }
  return {
    name: 'kafka',
    command: java,
    args: [
      `-Xmx${config.kafka.heap}`,
      '-Xms256m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      `-Dtributary.stack=${config.stateDir}`,
      ...common,
      '-cp',
      classpath,
      'kafka.Kafka',
      p.properties,
    ],
    logFile: p.logFile,
    pidFile: p.pidFile,
    marker: `-Dtributary.stack=${config.stateDir}`,
  };
}

/** True when the brokers answer a metadata request (the cluster has a controller). */
export async function kafkaReady(brokers: string[]): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'tributary-stack-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

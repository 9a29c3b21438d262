import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { parseJavaVersion, stackVersions } from '../../infra/stack/dist.js';
import { kafkaServerProperties } from '../../infra/stack/kafka-node.js';
import { isAlive, runningPid, startDetached, stopProcess } from '../../infra/stack/process.js';
import { registryProperties } from '../../infra/stack/schema-registry.js';

describe('java version parsing', () => {
  it.each([
    ['openjdk version "17.0.15" 2025-04-15', 17],
    ['openjdk version "25" 2025-09-16', 25],
    ['openjdk version "21.0.2" 2024-01-16 LTS', 21],
    ['java version "1.8.0_392"', 8],
    ['command not found', undefined],
  ])('%s → %s', (text, major) => {
    expect(parseJavaVersion(text)).toBe(major);
  });
});

describe('pinned versions', () => {
  it('reads Kafka and Apicurio versions from the pom', () => {
    const v = stackVersions();
    expect(v.kafka).toMatch(/^\d+\.\d+\.\d+$/);
    expect(v.apicurio).toMatch(/^3\.\d+\.\d+$/);
  });
});

describe('local stack configuration', () => {
  const config = loadConfig(
    { TRIBUTARY_KAFKA_PORT: '19092', TRIBUTARY_KAFKA_CONTROLLER_PORT: '19093' },
    '/srv',
  );

  it('binds Kafka to loopback on the configured ports, KRaft combined mode', () => {
    const props = kafkaServerProperties(config, '/srv/.tributary/kafka/data');
    expect(props).toContain('process.roles=broker,controller');
    expect(props).toContain('listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(props).toContain('advertised.listeners=PLAINTEXT://127.0.0.1:19092');
    expect(props).toContain('log.dirs=/srv/.tributary/kafka/data');
    expect(props).toContain('offsets.topic.replication.factor=1');
  });

  it('gives the registry loopback ports and storage that survives a restart', () => {
    const props = registryProperties(config, '/srv/.tributary/schema-registry/db/registry');
    expect(props['quarkus.http.host']).toBe('127.0.0.1');
    expect(props['quarkus.management.host']).toBe('127.0.0.1');
    expect(props['apicurio.storage.kind']).toBe('sql');
    expect(props['apicurio.datasource.url']).toMatch(/^jdbc:h2:file:\/srv\/.tributary\//);
  });
});

describe('managed processes', () => {
  it('stops only a process carrying its marker, SIGTERM first', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tributary-proc-'));
    const marker = `tributary-test-${process.pid}-${Date.now()}`;
    const spec = {
      name: 'sleeper',
      command: process.execPath,
      args: [
        '-e',
        'process.on("SIGTERM", () => { console.log("term"); process.exit(0); }); setInterval(() => {}, 1000);',
        marker,
      ],
      logFile: path.join(dir, 'sleeper.log'),
      pidFile: path.join(dir, 'sleeper.pid'),
      marker,
    };
    const pid = startDetached(spec);
    expect(runningPid(spec)).toBe(pid);
    // A pid file naming some other live process is not ours.
    const other = spawn('sleep', ['30']);
    const foreign = { pidFile: path.join(dir, 'foreign.pid'), marker };
    writeFileSync(foreign.pidFile, String(other.pid));
    expect(runningPid(foreign)).toBeUndefined();
    expect(await stopProcess(foreign)).toBe(false);
    expect(isAlive(other.pid!)).toBe(true);
    other.kill('SIGKILL');

    await new Promise((r) => setTimeout(r, 300));
    expect(await stopProcess(spec)).toBe(true);
    expect(isAlive(pid)).toBe(false);
    expect(readFileSync(spec.logFile, 'utf8')).toContain('term');
    expect(await stopProcess(spec)).toBe(false);
  });
});

/**
 * The local schema registry: Apicurio Registry 3.x (Quarkus fast-jar from Maven Central),
 * serving the Confluent Schema Registry API at `/apis/ccompat/v7`. Storage is file-backed H2
 * under the state directory, so registered schemas survive a restart.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TributaryConfig } from '../../lib/config.js';
import { ErrorCodes, TributaryError } from '../../lib/errors.js';
import { findJava, type Distributions } from './dist.js';
import type { ProcessSpec } from './process.js';

/** Apicurio 3.2+ is compiled for Java 21. */
export const REGISTRY_MIN_JAVA = 21;

export function registryPaths(stateDir: string) {
  const dir = path.join(stateDir, 'schema-registry');
  return {
    dir,
    db: path.join(dir, 'db', 'registry'),
    logFile: path.join(dir, 'registry.log'),
    pidFile: path.join(stateDir, 'run', 'schema-registry.pid'),
  };
}

/** The Quarkus/Apicurio system properties for a loopback, file-backed registry. */
export function registryProperties(config: TributaryConfig, dbPath: string): Record<string, string> {
  return {
    'quarkus.http.host': '127.0.0.1',
    'quarkus.http.port': String(config.registry.port),
    'quarkus.management.enabled': 'true',
    'quarkus.management.host': '127.0.0.1',
    'quarkus.management.port': String(config.registry.managementPort),
    'apicurio.storage.kind': 'sql',
    'apicurio.storage.sql.kind': 'h2',
    'apicurio.datasource.url': `jdbc:h2:file:${dbPath};DB_CLOSE_ON_EXIT=FALSE`,
    'apicurio.datasource.username': 'sa',
    'apicurio.datasource.password': 'sa',
    // New subjects default to BACKWARD, as DESIGN.md §3 asks; provisioning also sets it per subject.
    'apicurio.rest.deletion.artifact.enabled': 'true',
    'apicurio.rest.deletion.artifact-version.enabled': 'true',
    'apicurio.rest.deletion.group.enabled': 'true',
    'quarkus.log.console.json': 'false',
    'quarkus.otel.sdk.disabled': 'true',
  };
}

export function prepareRegistry(config: TributaryConfig, dist: Distributions): ProcessSpec {
  const p = registryPaths(config.stateDir);
  mkdirSync(path.dirname(p.db), { recursive: true });
  const java = findJava(REGISTRY_MIN_JAVA, config.registry.javaHome);
  if (!java) {
    throw new TributaryError(
      ErrorCodes.STACK_START_FAILED,
      `schema-registry: Apicurio ${dist.versions.apicurio} needs Java ${REGISTRY_MIN_JAVA}+ and none was found; ` +
        'set TRIBUTARY_REGISTRY_JAVA_HOME to a JDK 21+ (or point TRIBUTARY_SCHEMA_REGISTRY_URL at a registry)',
    );
  }
  const props = Object.entries(registryProperties(config, p.db)).map(([k, v]) => `-D${k}=${v}`);
  return {
    name: 'schema-registry',
    command: java,
    args: [
      `-Xmx${config.registry.heap}`,
      '-XX:+UseSerialGC',
      `-Dtributary.stack=${config.stateDir}`,
      ...props,
      '-jar',
      path.join(dist.apicurioHome, 'quarkus-run.jar'),
    ],
    cwd: dist.apicurioHome,
    logFile: p.logFile,
    pidFile: p.pidFile,
    marker: `-Dtributary.stack=${config.stateDir}`,
  };
}

/** True when the Confluent-compatible API answers. */
export async function registryReady(url: string): Promise<boolean> {
  const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.ok;
}

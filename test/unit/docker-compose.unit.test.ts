/**
 * The Docker files for users without the local stack: docker-compose.yml and the Dockerfile.
 * There is no YAML parser among the dependencies, so the structural checks read the compose file
 * by indentation; `docker compose config` validates it for real where Compose is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { enginesRange, satisfies } from '../../bin/node-support.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const composePath = path.join(root, 'docker-compose.yml');
const compose = readFileSync(composePath, 'utf8');
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');

const composeAvailable =
  spawnSync('docker', ['compose', 'version'], { stdio: 'ignore', timeout: 15_000 }).status === 0;
if (!composeAvailable) {
  console.warn('docker compose not available here: skipping `docker compose config`');
}

/**
 * The lines under `header` (a line matching it exactly) that are indented deeper than it; blank and
 * comment lines never end a block.
 */
function block(lines: readonly string[], header: RegExp): string[] | undefined {
  const start = lines.findIndex((l) => header.test(l));
  if (start === -1) return undefined;
  const indent = (lines[start] ?? '').search(/\S/);
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const trimmed = line.trim();
    if (trimmed !== '' && !trimmed.startsWith('#') && line.search(/\S/) <= indent) break;
    body.push(line);
  }
  return body;
}

const services = block(compose.split('\n'), /^services:\s*$/) ?? [];

function service(name: string): string[] | undefined {
  return block(services, new RegExp(`^  ${name}:\\s*$`));
}

/** The value of an environment variable in a service, in either map or list form. */
function envValue(lines: readonly string[], name: string): string | undefined {
  const environment = block(lines, /^\s+environment:\s*$/) ?? [];
  for (const line of environment) {
    const m = new RegExp(`^\\s+(?:-\\s*)?['"]?${name}['"]?\\s*[:=]\\s*(.*)$`).exec(line);
    if (m) return (m[1] ?? '').trim().replace(/^['"]|['"]$/g, '');
  }
  return undefined;
}

/** The instructions of the Dockerfile's last stage, continuation lines joined. */
function finalStage(text: string): string[] {
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const lastFrom = instructions.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  return instructions.slice(lastFrom);
}

describe('docker-compose.yml', () => {
  it('defines the four services', () => {
    for (const name of ['kafka', 'schema-registry', 'redis', 'tributary']) {
      expect(service(name), `service ${name}`).toBeDefined();
    }
  });

  it.each(['kafka', 'schema-registry', 'redis'])('gives %s a healthcheck with a test', (name) => {
    const check = block(service(name) ?? [], /^\s+healthcheck:\s*$/);
    expect(check, `${name}.healthcheck`).toBeDefined();
    expect((check ?? []).some((l) => /^\s+test:/.test(l))).toBe(true);
  });

  it('checks the broker with kafka-broker-api-versions.sh', () => {
    const check = block(service('kafka') ?? [], /^\s+healthcheck:\s*$/) ?? [];
    expect(check.join('\n')).toContain('/opt/kafka/bin/kafka-broker-api-versions.sh');
  });

  it('points tributary at the three other services by their compose names', () => {
    const tributary = service('tributary') ?? [];
    const endpoints = {
      TRIBUTARY_KAFKA_BROKERS: { service: 'kafka', url: (v: string) => new URL(`kafka://${v}`) },
      TRIBUTARY_SCHEMA_REGISTRY_URL: { service: 'schema-registry', url: (v: string) => new URL(v) },
      TRIBUTARY_REDIS_URL: { service: 'redis', url: (v: string) => new URL(v) },
    };
    for (const [name, expected] of Object.entries(endpoints)) {
      const value = envValue(tributary, name);
      expect(value, `tributary.environment.${name}`).toBeDefined();
      const url = expected.url(value ?? '');
      expect(url.hostname, name).toBe(expected.service);
      expect(service(url.hostname), `${name} names a service`).toBeDefined();
    }
    expect(envValue(tributary, 'TRIBUTARY_SCHEMA_REGISTRY_URL')).toMatch(/\/apis\/ccompat\/v7$/);
  });

  it('starts tributary only once the other three are healthy', () => {
    const dependsOn = block(service('tributary') ?? [], /^\s+depends_on:\s*$/);
    expect(dependsOn).toBeDefined();
    for (const name of ['kafka', 'schema-registry', 'redis']) {
      const condition = block(dependsOn ?? [], new RegExp(`^\\s+${name}:\\s*$`)) ?? [];
      expect(condition.join('\n'), `depends_on.${name}`).toMatch(/condition:\s*service_healthy/);
    }
  });

  it.skipIf(!composeAvailable)('is accepted by `docker compose config`', () => {
    // Throws, with Compose's stderr in the message, when the file is invalid.
    execFileSync('docker', ['compose', '-f', composePath, 'config', '-q'], {
      cwd: root,
      stdio: 'pipe',
      timeout: 30_000,
    });
  });
});

describe('Dockerfile', () => {
  const stage = finalStage(dockerfile);

  it('is multi-stage', () => {
    expect(dockerfile.match(/^FROM\s/gim)?.length ?? 0).toBeGreaterThanOrEqual(2);
  });

  it('runs bin/tributary.js from the final stage', () => {
    const entrypoint = stage.filter((l) => /^ENTRYPOINT\s/i.test(l)).at(-1);
    expect(entrypoint).toBeDefined();
    const args: unknown = JSON.parse((entrypoint ?? '').replace(/^ENTRYPOINT\s+/i, ''));
    expect(args).toEqual(['node', 'bin/tributary.js']);
  });

  it('copies the compiled dist into the final stage', () => {
    expect(stage.some((l) => /^COPY\s.*\bdist\/?\s+\S*\bdist\/?$/i.test(l))).toBe(true);
  });

  it('does not run as root', () => {
    const user = stage.filter((l) => /^USER\s/i.test(l)).at(-1);
    expect(user).toMatch(/^USER\s+node$/i);
  });

  it('builds and runs on a Node line of engines.node', () => {
    const lines = [...dockerfile.matchAll(/^FROM\s+node:(\d+)[-\w.]*/gim)].map((m) => m[1]);
    expect(lines.length).toBe(dockerfile.match(/^FROM\s/gim)?.length);
    // A line is supported when its latest release is: the range's floors name minor versions.
    for (const line of lines) expect(satisfies(`${line}.999.0`, enginesRange()), `node:${line}`).toBe(true);
  });
});

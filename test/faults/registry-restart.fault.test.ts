/**
 * Registered schemas survive a registry restart (file-backed storage). Runs a registry of its
 * own, with the same code as `tributary stack up`, so the shared test stack is never disturbed.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, describe, expect, it } from 'vitest';
import { stackDown, stackUp } from '../../infra/stack/stack.js';
import { freePort } from '../helpers/free-port.js';
import { testConfig, testLogger, uid } from '../helpers/stack.js';

const [httpPort, managementPort] = await Promise.all([freePort(), freePort()]);

describe('schema registry durability', () => {
  const stateDir = path.resolve(`.tributary/test-registry-${uid()}`);
  const config = testConfig({
    TRIBUTARY_SCHEMA_REGISTRY_URL: '',
    TRIBUTARY_STATE_DIR: stateDir,
    TRIBUTARY_REGISTRY_PORT: String(httpPort),
    TRIBUTARY_REGISTRY_MANAGEMENT_PORT: String(managementPort),
  });
  afterAll(async () => {
    await stackDown(config, testLogger(), { only: ['schema-registry'] });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('keeps subjects, versions and ids across a restart', async () => {
    expect(config.registry.url.external).toBe(false);
    await stackUp(config, testLogger(), { only: ['schema-registry'], onProgress: () => undefined });
    const registry = new SchemaRegistry({ host: config.registry.url.value });
    const subject = `durable-${uid()}-dev.tributary.test.Durable`;
    const schema = {
      type: 'record',
      name: 'Durable',
      namespace: 'dev.tributary.test',
      fields: [{ name: 'n', type: 'int' }],
    };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );

    expect(await stackDown(config, testLogger(), { only: ['schema-registry'] })).toEqual(['schema-registry']);
    await stackUp(config, testLogger(), { only: ['schema-registry'], onProgress: () => undefined });

    const after = new SchemaRegistry({ host: config.registry.url.value });
    expect(await after.getLatestSchemaId(subject)).toBe(id);
    const res = await fetch(`${config.registry.url.value}/schemas/ids/${id}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(((await res.json()) as { schema: string }).schema)).toMatchObject({ name: 'Durable' });
  });
});

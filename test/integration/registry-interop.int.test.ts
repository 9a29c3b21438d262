/**
 * The schema registry as Confluent's own Python client sees it: a schema it registers is read by
 * our client, one we register is read by it, and bytes it serializes decode on our side.
 */
import { existsSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { python, runPython } from '../helpers/python.js';
import { testConfig, uid } from '../helpers/stack.js';

describe('schema registry interoperability with confluent-kafka (Python)', () => {
  it('shares schemas and wire-format bytes both ways', async () => {
    expect(existsSync(python), `${python} missing: run bash infra/bootstrap.sh deps`).toBe(true);
    const config = testConfig();
    const registry = new SchemaRegistry({ host: config.registry.url.value });
    const topic = `interop-${uid()}`;

    const tsSchema = {
      type: 'record',
      name: 'TsEvent',
      namespace: 'dev.tributary.test',
      fields: [{ name: 'label', type: 'string' }],
    };
    const { id: tsId } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(tsSchema) },
      { subject: `${topic}-dev.tributary.test.TsEvent` },
    );

    const subject = `${topic}-dev.tributary.test.PythonEvent`;
    const result = JSON.parse(
      await runPython('registry_client.py', [config.registry.url.value, subject, topic], `${tsId}\n`),
    ) as {
      id: number;
      compatibility: string;
      latestVersion: number;
      payloadHex: string;
      tsSchema: typeof tsSchema;
    };

    expect(result.tsSchema).toMatchObject({ name: 'TsEvent', fields: tsSchema.fields });
    expect(result.compatibility).toBe('BACKWARD');
    expect(result.latestVersion).toBe(1);
    expect(await registry.getLatestSchemaId(subject)).toBe(result.id);

    const bytes = Buffer.from(result.payloadHex, 'hex');
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(result.id);
    expect(await registry.decode(bytes)).toEqual({ id: 'py-1', count: 7 });
  });
});

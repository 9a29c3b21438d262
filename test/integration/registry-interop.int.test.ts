/**
 * The schema registry as Confluent's own Python client sees it: a schema it registers is read by
 * our client, one we register is read by it, and bytes it serializes decode on our side.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { testConfig, uid } from '../helpers/stack.js';

const python = process.env.TRIBUTARY_PYTHON ?? path.resolve('.tributary/venv/bin/python');

function runPython(args: string[], stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.resolve('test/interop/registry_client.py'), ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`python exit ${code}: ${err}`)),
    );
    child.stdin.end(stdin);
  });
}

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
    const result = JSON.parse(await runPython([config.registry.url.value, subject, topic], `${tsId}\n`)) as {
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

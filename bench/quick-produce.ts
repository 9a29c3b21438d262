/**
 * Quick producer throughput: raw 200-byte records through one client engine to a fresh topic,
 * acks=all, idempotent, lz4. Not the typed `publishBatch` measurement (that adds Avro and the
 * registry); this is the ceiling the engines give the layers above.
 *
 *   npx tsx bench/quick-produce.ts --engine kafkajs|confluent [--count 200000] [--size 200]
 *     [--partitions 6] [--per-send 100] [--window 512] [--linger-ms 5] [--batch-bytes 1048576]
 *     [--compression lz4] [--brokers host:port] [--json]
 *
 * Brokers: --brokers, else TRIBUTARY_KAFKA_BROKERS, else the test stack (127.0.0.1:39092).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.js';
import type { CompressionName, EngineName, OutgoingRecord } from '../lib/engine.js';
import { createProducer, engineNames } from '../lib/engines/index.js';
import { createKafka } from '../lib/kafka.js';
import { initLogger } from '../lib/logger.js';
import { createTopicsAndWait } from '../infra/topics.js';

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string', default: 'kafkajs' },
    count: { type: 'string', default: '200000' },
    size: { type: 'string', default: '200' },
    partitions: { type: 'string', default: '6' },
    'per-send': { type: 'string', default: '100' },
    window: { type: 'string', default: '512' },
    'linger-ms': { type: 'string', default: '5' },
    'batch-bytes': { type: 'string', default: String(1024 * 1024) },
    compression: { type: 'string', default: 'lz4' },
    keys: { type: 'string', default: '10000' },
    brokers: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const engine = args.engine as EngineName;
if (!engineNames.includes(engine)) throw new Error(`--engine must be one of ${engineNames.join(', ')}`);
const count = Number(args.count);
const size = Number(args.size);
const perSend = Number(args['per-send']);
const window = Number(args.window);
const keys = Number(args.keys);

const logger = initLogger({ level: (process.env.TRIBUTARY_LOG_LEVEL as 'warn') ?? 'warn', destination: 2 });
const config = loadConfig({
  ...process.env,
  TRIBUTARY_KAFKA_BROKERS: args.brokers ?? process.env.TRIBUTARY_KAFKA_BROKERS ?? '127.0.0.1:39092',
  TRIBUTARY_CLIENT_ENGINE: engine,
});

/** Values of `size` bytes, text-like (base64 of random bytes) so lz4 has something to do. */
function makeValues(n: number): Buffer[] {
  return Array.from({ length: n }, () =>
    Buffer.from(
      randomBytes(Math.ceil((size * 3) / 4))
        .toString('base64')
        .slice(0, size),
    ),
  );
}

async function main(): Promise<void> {
  const topic = `bench.quick-produce.${engine}.${randomBytes(4).toString('hex')}`;
  // The admin's metadata polling logs a KRaft broker's brief UNKNOWN_TOPIC as an error: keep it quiet.
  const admin = createKafka(config, logger.child({}, { level: 'silent' })).admin();
  await admin.connect();
  await createTopicsAndWait(admin, [
    {
      topic,
      numPartitions: Number(args.partitions),
      configEntries: [{ name: 'compression.type', value: 'producer' }],
    },
  ]);

  const values = makeValues(1024);
  const producer = createProducer(config, logger, {
    lingerMs: Number(args['linger-ms']),
    batchBytes: Number(args['batch-bytes']),
    compression: args.compression as CompressionName,
  });
  await producer.connect();

  const outstanding = new Set<Promise<void>>();
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < count; sent += perSend) {
    const records: OutgoingRecord[] = [];
    for (let i = sent; i < Math.min(count, sent + perSend); i++) {
      records.push({
        key: `user-${i % keys}`,
        value: values[i % values.length]!,
        headers: { 'event-type': 'Bench' },
      });
    }
    const p = producer.send(topic, records);
    outstanding.add(p);
    void p.finally(() => outstanding.delete(p));
    if (outstanding.size >= window) await Promise.race(outstanding);
  }
  await Promise.all(outstanding);
  await producer.flush();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets(topic);
  const stored = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();

  const result = {
    engine,
    count,
    size,
    stored,
    seconds: Number(seconds.toFixed(3)),
    eventsPerSecond: Math.round(count / seconds),
    megabytesPerSecond: Number(((count * size) / seconds / 1e6).toFixed(1)),
    lingerMs: Number(args['linger-ms']),
    batchBytes: Number(args['batch-bytes']),
    compression: args.compression,
  };
  if (stored !== count) throw new Error(`broker holds ${stored} records, expected ${count}`);
  process.stdout.write(
    args.json
      ? `${JSON.stringify(result)}\n`
      : `${engine}: ${count} × ${size} B in ${result.seconds} s = ${result.eventsPerSecond} events/s ` +
          `(${result.megabytesPerSecond} MB/s, ${args.compression})\n`,
  );
}

await main();

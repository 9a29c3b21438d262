/**
 * The app's topics as an AsyncAPI 3.0 document, generated from its catalog (the one source of
 * truth): a channel per topic (its Kafka name, partitions, retention and cleanup policy), a message
 * per event type with its Avro schema as payload (`schemaFormat:
 * application/vnd.apache.avro;version=1.9.0`), the `event-type` and `event-id` headers, and Kafka
 * bindings that say how to read it: the key (first non-empty of the key fields), the schema id in
 * the payload in the Confluent wire format, subjects by TopicRecordNameStrategy, and the registry.
 * Served as `tributary asyncapi` and `GET /asyncapi.json` on the ingestion service.
 */
import type { TributaryConfig } from '../lib/config.js';
import type { EventCatalog, TopicDefinition } from './catalog.js';

/** The Avro schema format AsyncAPI names, for the version of the spec avsc implements. */
export const AVRO_SCHEMA_FORMAT = 'application/vnd.apache.avro;version=1.9.0';

/** Kafka bindings version used throughout. */
const KAFKA_BINDINGS = '0.5.0';

type Json = Record<string, unknown>;

/** A name usable as a key of AsyncAPI's components and channels (letters, digits, `.`, `_`, `-`). */
function componentKey(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

function channel(topic: TopicDefinition, config: TributaryConfig): Json {
  const retention = topic.retentionMs ?? config.topics.retentionMs;
  return {
    address: `${config.topics.prefix}${topic.name}`,
    title: topic.name,
    description:
      topic.events.length > 0
        ? `Events ${topic.events.join(', ')}, keyed by the first non-empty of ${topic.keyFields.join(', ')}.`
        : 'Records of the app other than its typed events.',
    messages: Object.fromEntries(
      topic.events.map((type) => [type, { $ref: `#/components/messages/${componentKey(type)}` }]),
    ),
    bindings: {
      kafka: {
        topic: `${config.topics.prefix}${topic.name}`,
        partitions: topic.partitions ?? config.topics.partitions,
        replicas: config.topics.replicationFactor,
        topicConfiguration: {
          'cleanup.policy': topic.cleanup.split(','),
          'retention.ms': retention,
        },
        bindingVersion: KAFKA_BINDINGS,
      },
    },
  };
}

/** A URL with its user info removed (`https://key:secret@host/x` → `https://host/x`). */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/**
 * The document for `catalog` as `config` deploys it (topic prefix, partitions, brokers, registry).
 * `title` and `version` name the app.
 */
export function asyncApiDocument(
  catalog: EventCatalog,
  config: TributaryConfig,
  info: { readonly title: string; readonly version: string; readonly description?: string },
): Json {
  const messages: Json = {};
  for (const type of catalog.types) {
    const def = catalog.get(type);
    messages[componentKey(type)] = {
      name: type,
      title: type,
      ...(def.schema.doc ? { summary: def.schema.doc } : {}),
      contentType: 'application/octet-stream',
      headers: {
        type: 'object',
        properties: {
          'event-type': { type: 'string', const: type, description: 'The event type.' },
          'event-id': { type: 'string', format: 'uuid', description: 'The event id, for de-duplication.' },
        },
      },
      payload: { schemaFormat: AVRO_SCHEMA_FORMAT, schema: def.schema },
      bindings: {
        kafka: {
          key: {
            type: 'string',
            description: `The first non-empty of ${def.keyFields.map((f) => `\`${f}\``).join(', ')}.`,
          },
          schemaIdLocation: 'payload',
          schemaIdPayloadEncoding: 'confluent',
          schemaLookupStrategy: 'TopicRecordNameStrategy',
          bindingVersion: KAFKA_BINDINGS,
        },
      },
    };
  }
  const channels: Json = {};
  const operations: Json = {};
  for (const topic of catalog.topics) {
    const key = componentKey(topic.name);
    channels[key] = channel(topic, config);
    if (topic.events.length === 0) continue;
    const refs = topic.events.map((type) => ({ $ref: `#/channels/${key}/messages/${type}` }));
    operations[`publish-${key}`] = {
      action: 'send',
      title: `Publish to ${topic.name}`,
      channel: { $ref: `#/channels/${key}` },
      messages: refs,
    };
    operations[`consume-${key}`] = {
      action: 'receive',
      title: `Consume ${topic.name}`,
      channel: { $ref: `#/channels/${key}` },
      messages: refs,
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: info.title,
      version: info.version,
      description:
        info.description ??
        'Typed domain events on Apache Kafka: Avro in the Confluent wire format, schemas in a ' +
          'Confluent-compatible registry (subjects by TopicRecordNameStrategy, BACKWARD compatibility).',
    },
    defaultContentType: 'application/octet-stream',
    servers: {
      kafka: {
        host: config.kafka.brokers.value.join(','),
        protocol: 'kafka',
        description: 'The Kafka brokers.',
        bindings: {
          kafka: {
            // Without credentials: the document is public, and a registry URL may carry user:secret@.
            schemaRegistryUrl: withoutCredentials(config.registry.url.value),
            schemaRegistryVendor: 'confluent',
            bindingVersion: KAFKA_BINDINGS,
          },
        },
      },
    },
    channels,
    operations,
    components: { messages },
  };
}

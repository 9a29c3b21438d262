/**
 * The client engines behind one interface. `TRIBUTARY_CLIENT_ENGINE` (config.kafka.engine)
 * picks one: `kafkajs` (pure JavaScript, the default) or `confluent` (librdkafka, built from
 * source on install, loaded only when chosen).
 */
import type { TributaryConfig } from '../config.js';
import type {
  EngineConsumer,
  EngineConsumerOptions,
  EngineName,
  EngineProducer,
  EngineProducerOptions,
} from '../engine.js';
import type { Logger } from '../logger.js';
import { ConfluentConsumer } from './confluent-consumer.js';
import { ConfluentProducer } from './confluent-producer.js';
import { KafkajsConsumer } from './kafkajs-consumer.js';
import { KafkajsProducer } from './kafkajs-producer.js';

export { confluentInstalled, loadConfluent, CONFLUENT_PACKAGE } from './confluent-producer.js';
export { registerKafkajsCodecs } from './kafkajs-codecs.js';
export { producerDefaults, resolveProducerOptions, type ResolvedProducerOptions } from './options.js';
export {
  consumerDefaults,
  resolveConsumerOptions,
  type ResolvedConsumerOptions,
} from './consumer-options.js';
export { ConfluentConsumer, ConfluentProducer, KafkajsConsumer, KafkajsProducer };

/** Every engine name, in the order the docs and benchmarks list them. */
export const engineNames: readonly EngineName[] = ['kafkajs', 'confluent'];

/**
 * Creates an unconnected producer of the configured engine; call `connect()` before `send()`.
 * Throws `TRIBUTARY_CONFIG_INVALID` for options the engine cannot honour. Engine logs go to a
 * `producer` child of `logger`, tagged with the engine's name.
 */
export function createProducer(
  config: TributaryConfig,
  logger: Logger,
  options: EngineProducerOptions = {},
): EngineProducer {
  const log = logger.child({ component: 'producer' });
  switch (config.kafka.engine) {
    case 'kafkajs':
      return new KafkajsProducer(config, log, options);
    case 'confluent':
      return new ConfluentProducer(config, log, options);
  }
}

/**
 * Creates an unconnected consumer of the configured engine for `options.groupId`; call
 * `connect()`, `subscribe()` and `run()`. Throws `TRIBUTARY_CONFIG_INVALID` for bad options.
 * Engine logs go to a `consumer` child of `logger`, tagged with the engine and the group.
 */
export function createConsumer(
  config: TributaryConfig,
  logger: Logger,
  options: EngineConsumerOptions,
): EngineConsumer {
  const log = logger.child({ component: 'consumer' });
  switch (config.kafka.engine) {
    case 'kafkajs':
      return new KafkajsConsumer(config, log, options);
    case 'confluent':
      return new ConfluentConsumer(config, log, options);
  }
}

/**
 * Names of Kafka topics and consumer groups that Tributary derives from an app's declarations,
 * in this one place (DESIGN.md §10): nothing else spells them. Redis key names come from
 * lib/redis-keys.ts.
 */

const DLQ_SUFFIX = '.dlq';

/** The dead-letter topic of a topic (its full name, prefix included): `<topic>.dlq`. */
export function dlqTopic(topic: string): string {
  return `${topic}${DLQ_SUFFIX}`;
}

/** True for a dead-letter topic's name. */
export function isDlqTopic(topic: string): boolean {
  return topic.endsWith(DLQ_SUFFIX);
}

/**
 * The consumer group of one key version of a projection (`<prefix>tributary-users.v1`): the
 * consumer runtime joins it, rebuild deletes old ones, the dashboard reads its state.
 */
export function projectionGroupId(topicPrefix: string, projection: string, version: string): string {
  return `${topicPrefix}tributary-${projection}.${version}`;
}

/** The consumer group of an app's bridge: `<prefix>tributary-bridge-<name>`. */
export function bridgeGroupId(topicPrefix: string, bridge: string): string {
  return `${topicPrefix}tributary-bridge-${bridge}`;
}

/**
 * Topic provisioning from an app's topic declarations and config, idempotent. Missing topics are created; topic configs that
 * differ (retention, cleanup policy) are altered; a changed partition count is reported and
 * never applied, since adding partitions re-keys every aggregate (DESIGN.md §3).
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import type { TributaryConfig } from '../lib/config.js';
import { ErrorCodes, TributaryError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { EventCatalog } from '../schemas/catalog.js';
import { dlqTopic } from '../lib/names.js';

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

/**
 * Every topic the app declares, each followed by its dead-letter topic if it has one, with the
 * settings it declares and config's defaults for the rest.
 */
export function desiredTopics(config: TributaryConfig, catalog: EventCatalog): TopicSpec[] {
  const t = config.topics;
  const specs: TopicSpec[] = [];
  for (const topic of catalog.topics) {
    const name = `${t.prefix}${topic.name}`;
    specs.push({
      name,
      partitions: topic.partitions ?? t.partitions,
      replicationFactor: t.replicationFactor,
      configs: {
        'cleanup.policy': topic.cleanup,
        'retention.ms': String(topic.retentionMs ?? t.retentionMs),
        ...(topic.cleanup === 'delete' ? { 'compression.type': 'producer' } : {}),
      },
    });
  }
  for (const topic of catalog.topics.filter((x) => x.deadLetters)) {
    specs.push({
      name: dlqTopic(`${t.prefix}${topic.name}`),
      partitions: 1,
      replicationFactor: t.replicationFactor,
      configs: { 'cleanup.policy': 'delete', 'retention.ms': String(t.dlqRetentionMs) },
    });
  }
  return specs;
}

export interface ExistingTopic {
  readonly partitions: number;
  readonly configs: Readonly<Record<string, string | undefined>>;
}

export interface TopicPlan {
  readonly create: TopicSpec[];
  readonly alter: { name: string; changes: Record<string, { from: string | undefined; to: string }> }[];
  /** Partition counts that differ from config; reported, never applied. */
  readonly partitionDrift: { name: string; actual: number; desired: number }[];
  readonly unchanged: string[];
}

/** Pure: what to do to go from `existing` to `desired`. */
export function planTopics(
  desired: readonly TopicSpec[],
  existing: ReadonlyMap<string, ExistingTopic>,
): TopicPlan {
  const plan: TopicPlan = { create: [], alter: [], partitionDrift: [], unchanged: [] };
  for (const spec of desired) {
    const cur = existing.get(spec.name);
    if (!cur) {
      plan.create.push(spec);
      continue;
    }
    if (cur.partitions !== spec.partitions) {
      plan.partitionDrift.push({ name: spec.name, actual: cur.partitions, desired: spec.partitions });
    }
    const changes: Record<string, { from: string | undefined; to: string }> = {};
    for (const [key, value] of Object.entries(spec.configs)) {
      if (cur.configs[key] !== value) changes[key] = { from: cur.configs[key], to: value };
    }
    if (Object.keys(changes).length > 0) plan.alter.push({ name: spec.name, changes });
    else if (cur.partitions === spec.partitions) plan.unchanged.push(spec.name);
  }
  return plan;
}

const CONFIG_RESOURCE_TOPIC = 2;

/**
 * Creates topics and waits until every partition has a leader. KafkaJS's own `waitForLeaders`
 * gives up when a KRaft broker briefly answers UNKNOWN_TOPIC_OR_PARTITION for a topic it has
 * just created, so we poll metadata ourselves.
 */
export async function createTopicsAndWait(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: names });
      const ready = meta.topics.every((t) => {
        const want = topics.find((x) => x.topic === t.name)?.numPartitions ?? 1;
        return t.partitions.length >= want && t.partitions.every((p) => p.leader >= 0);
      });
      // Leaders known is not yet leaders serving: KRaft answers NOT_LEADER_OR_FOLLOWER for a moment
      // after creation. Listing offsets goes to each leader, so once it works, the topics are usable.
      if (ready && meta.topics.length === names.length) {
        await Promise.all(names.map((topic) => admin.fetchTopicOffsets(topic)));
        return;
      }
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline)
      throw new Error(`topics ${names.join(', ')} have no leaders after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function describeExisting(admin: Admin, names: string[]): Promise<Map<string, ExistingTopic>> {
  const all = new Set(await admin.listTopics());
  const present = names.filter((n) => all.has(n));
  const out = new Map<string, ExistingTopic>();
  if (present.length === 0) return out;
  const meta = await admin.fetchTopicMetadata({ topics: present });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((name) => ({ type: CONFIG_RESOURCE_TOPIC, name })),
  });
  for (const t of meta.topics) {
    const res = configs.resources.find((r) => r.resourceName === t.name);
    const entries: Record<string, string> = {};
    for (const e of res?.configEntries ?? []) entries[e.configName] = e.configValue;
    out.set(t.name, { partitions: t.partitions.length, configs: entries });
  }
  return out;
}

/**
 * Applies the plan for `desired` (every topic of the app: {@link desiredTopics}) and returns it, so callers
 * can report what changed. Partition drift is logged as a warning.
 */
export async function provisionTopics(
  admin: Admin,
  logger: Logger,
  desired: readonly TopicSpec[],
): Promise<TopicPlan> {
  const log = logger.child({ component: 'topics' });
  try {
    const existing = await describeExisting(
      admin,
      desired.map((d) => d.name),
    );
    const plan = planTopics(desired, existing);
    if (plan.create.length > 0) {
      const topics: ITopicConfig[] = plan.create.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor,
        configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
      }));
      await createTopicsAndWait(admin, topics);
      log.info({ topics: plan.create.map((s) => s.name) }, 'created topics');
    }
    for (const a of plan.alter) {
      const spec = desired.find((d) => d.name === a.name)!;
      // Non-incremental alter replaces the topic's dynamic configs: send the full desired set.
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: CONFIG_RESOURCE_TOPIC,
            name: a.name,
            configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
          },
        ],
      });
      log.info({ topic: a.name, changes: a.changes }, 'altered topic config');
    }
    for (const d of plan.partitionDrift) {
      log.warn(
        d,
        `topic ${d.name} has ${d.actual} partitions but config says ${d.desired}; not changed ` +
          '(re-partitioning moves keys between partitions; do it deliberately)',
      );
    }
    return plan;
  } catch (err) {
    throw new TributaryError(
      ErrorCodes.TOPIC_PROVISIONING_FAILED,
      `topic provisioning failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

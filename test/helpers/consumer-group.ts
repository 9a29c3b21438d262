/** Consumer-group chores of the fault tests. */
import type { Kafka } from 'kafkajs';
import type { TributaryConfig } from '../../lib/config.js';
import { createKafka } from '../../lib/kafka.js';
import { testLogger } from './stack.js';

interface ClusterInternals {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(request: { groupId: string }): Promise<{
    leaveGroup(request: { groupId: string; memberId: string }): Promise<unknown>;
  }>;
}

/** KafkaJS's cluster client, which its public API keeps private (it has no `LeaveGroup` call). */
function clusterOf(kafka: Kafka): ClusterInternals {
  const create = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === 'private:Kafka:createCluster',
  );
  if (!create) throw new Error('kafkajs internals changed: no private:Kafka:createCluster on Kafka');
  const factory = (kafka as unknown as Record<symbol, (options: object) => ClusterInternals>)[create]!;
  return factory({ metadataMaxAge: 300_000 });
}

/**
 * Removes every member of `groupId`, as the coordinator does when their sessions time out, and
 * returns how many there were. For a test that has `kill -9`ed the group's only consumer: the
 * next consumer's join would otherwise wait for the dead member's session timeout (30 s) on every
 * restart. Call it only when every member is known to be dead.
 */
export async function evictGroupMembers(config: TributaryConfig, groupId: string): Promise<number> {
  const kafka = createKafka(config, testLogger());
  const admin = kafka.admin();
  await admin.connect();
  const cluster = clusterOf(kafka);
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const members = groups[0]?.members ?? [];
    if (members.length === 0) return 0;
    await cluster.connect();
    const coordinator = await cluster.findGroupCoordinator({ groupId });
    for (const { memberId } of members) {
      await coordinator.leaveGroup({ groupId, memberId }).catch((err: unknown) => {
        // Its session may have ended meanwhile.
        if ((err as { type?: string }).type !== 'UNKNOWN_MEMBER_ID') throw err;
      });
    }
    return members.length;
  } finally {
    await cluster.disconnect().catch(() => undefined);
    await admin.disconnect();
  }
}

/** Members of `groupId` and its state, as the coordinator sees them. */
export async function describeGroup(
  config: TributaryConfig,
  groupId: string,
): Promise<{ state: string; members: number }> {
  const admin = createKafka(config, testLogger()).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return { state: groups[0]?.state ?? 'Dead', members: groups[0]?.members.length ?? 0 };
  } finally {
    await admin.disconnect();
  }
}

/** Records on a topic now: the sum over partitions of high minus low watermark. */
export async function topicRecordCount(config: TributaryConfig, topic: string): Promise<number> {
  const admin = createKafka(config, testLogger()).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, o) => sum + Number(BigInt(o.high) - BigInt(o.low)), 0);
  } finally {
    await admin.disconnect();
  }
}

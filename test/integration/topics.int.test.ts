import { describe, expect, it } from 'vitest';
import { desiredTopics, provisionTopics } from '../../infra/topics.js';
import { cleanupTopics, testAdmin, testConfig, testLogger } from '../helpers/stack.js';
import { shopCatalog } from '../helpers/shop.js';

describe('topic provisioning', () => {
  it('creates every topic once, then reports nothing to do', async () => {
    const config = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '2', TRIBUTARY_TOPIC_RETENTION_MS: '3600000' });
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);

    const first = await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    const names = desiredTopics(config, shopCatalog).map((t) => t.name);
    expect(first.create.map((t) => t.name).sort()).toEqual([...names].sort());

    const meta = await admin.fetchTopicMetadata({ topics: [`${config.topics.prefix}users`] });
    expect(meta.topics[0]!.partitions).toHaveLength(2);

    const second = await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));
    expect(second.create).toEqual([]);
    expect(second.alter).toEqual([]);
    expect(second.unchanged.sort()).toEqual([...names].sort());
  });

  it('applies a retention change and reports, never applies, a partition change', async () => {
    const config = testConfig({ TRIBUTARY_TOPIC_PARTITIONS: '2' });
    const admin = await testAdmin(config);
    cleanupTopics(config, admin);
    await provisionTopics(admin, testLogger(), desiredTopics(config, shopCatalog));

    const changed = testConfig({
      TRIBUTARY_TOPIC_PREFIX: config.topics.prefix,
      TRIBUTARY_TOPIC_PARTITIONS: '4',
      TRIBUTARY_TOPIC_RETENTION_MS: '7200000',
    });
    const plan = await provisionTopics(admin, testLogger(), desiredTopics(changed, shopCatalog));
    const users = `${config.topics.prefix}users`;
    expect(plan.partitionDrift).toContainEqual({ name: users, actual: 2, desired: 4 });
    expect(plan.alter.find((a) => a.name === users)?.changes['retention.ms']?.to).toBe('7200000');

    const meta = await admin.fetchTopicMetadata({ topics: [users] });
    expect(meta.topics[0]!.partitions).toHaveLength(2);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: users, configNames: ['retention.ms'] }],
    });
    expect(described.resources[0]!.configEntries[0]!.configValue).toBe('7200000');
  });
});

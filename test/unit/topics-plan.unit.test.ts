import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { desiredTopics, planTopics, type ExistingTopic } from '../../infra/topics.js';
import { dlqTopic } from '../../lib/names.js';
import { shopCatalog } from '../helpers/shop.js';

const config = loadConfig({ TRIBUTARY_TOPIC_PREFIX: 'p.', TRIBUTARY_TOPIC_PARTITIONS: '3' }, '/srv');

describe('desiredTopics', () => {
  it('lists each aggregate topic, its dead-letter topic, late events and analytics output', () => {
    const names = desiredTopics(config, shopCatalog).map((t) => t.name);
    expect(names.sort()).toEqual(
      [
        'p.users',
        'p.orders',
        'p.page-views',
        'p.users.dlq',
        'p.orders.dlq',
        'p.page-views.dlq',
        'p.user-created',
        'p.user-created.dlq',
        'p.analytics.late-events',
        'p.analytics.windows',
      ].sort(),
    );
    expect(dlqTopic('p.users')).toBe('p.users.dlq');
    const users = desiredTopics(config, shopCatalog).find((t) => t.name === 'p.users')!;
    expect(users.partitions).toBe(3);
    expect(users.configs['retention.ms']).toBe(String(7 * 24 * 3600 * 1000));
  });
});

describe('planTopics', () => {
  const desired = desiredTopics(config, shopCatalog);
  const asExisting = (over: Partial<Record<string, Partial<ExistingTopic>>> = {}) =>
    new Map(
      desired.map((d) => [d.name, { partitions: d.partitions, configs: { ...d.configs }, ...over[d.name] }]),
    );

  it('creates everything on an empty cluster', () => {
    const plan = planTopics(desired, new Map());
    expect(plan.create).toHaveLength(desired.length);
    expect(plan.alter).toEqual([]);
  });

  it('does nothing when the cluster matches', () => {
    const plan = planTopics(desired, asExisting());
    expect(plan.create).toEqual([]);
    expect(plan.alter).toEqual([]);
    expect(plan.partitionDrift).toEqual([]);
    expect(plan.unchanged).toHaveLength(desired.length);
  });

  it('reports a partition change without planning to apply it', () => {
    const plan = planTopics(desired, asExisting({ 'p.orders': { partitions: 12 } }));
    expect(plan.partitionDrift).toEqual([{ name: 'p.orders', actual: 12, desired: 3 }]);
    expect(plan.create).toEqual([]);
    expect(plan.unchanged).not.toContain('p.orders');
  });

  it('plans a config change with its old and new values', () => {
    const plan = planTopics(
      desired,
      asExisting({ 'p.users': { configs: { 'retention.ms': '1000', 'cleanup.policy': 'delete' } } }),
    );
    expect(plan.alter).toHaveLength(1);
    expect(plan.alter[0]!.name).toBe('p.users');
    expect(plan.alter[0]!.changes['retention.ms']).toEqual({
      from: '1000',
      to: String(7 * 24 * 3600 * 1000),
    });
  });
});

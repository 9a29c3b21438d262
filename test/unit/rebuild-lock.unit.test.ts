/** The rebuild lock's value: what a refused rebuild reads to name the holder. */
import { describe, expect, it } from 'vitest';
import { parseHolder } from '../../consumers/rebuild-lock.js';

describe('rebuild lock holder', () => {
  it('reads a lock this code wrote, and nothing else', () => {
    const holder = { holder: 'h:1', startedAt: '2026-01-01T00:00:00.000Z', token: 'abc' };
    expect(parseHolder(JSON.stringify(holder))).toEqual(holder);
    expect(parseHolder(null)).toBeUndefined();
    expect(parseHolder('not json')).toBeUndefined();
    expect(parseHolder(JSON.stringify({ holder: 'h:1' }))).toBeUndefined();
  });
});

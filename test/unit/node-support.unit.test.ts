/**
 * Which Node Tributary runs on (bin/node-support.js): the range reader the bootstrap and the CLI
 * shim share, and the Node the bootstrap installs when the machine's is not supported.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { enginesRange, satisfies } from '../../bin/node-support.js';

const readJson = (path: string): unknown => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'));

describe('satisfies', () => {
  const range = '^22.18.0 || ^24.11.0 || ^26.0.0';

  it.each([
    ['22.18.0', true],
    ['22.23.5', true],
    ['24.11.0', true],
    ['26.0.0', true],
    ['26.12.1', true],
    ['v26.12.1', true],
    ['26.0.0-pre', true],
    ['20.20.2', false],
    ['22.17.9', false],
    ['23.9.0', false],
    ['24.10.9', false],
    ['25.9.0', false],
    ['27.0.0', false],
  ])('%s in "^22.18.0 || ^24.11.0 || ^26.0.0": %s', (version, expected) => {
    expect(satisfies(version, range)).toBe(expected);
  });

  it('reads >= as any later version, majors included', () => {
    expect(satisfies('27.1.0', '>=26.2.0')).toBe(true);
    expect(satisfies('26.1.9', '>=26.2.0')).toBe(false);
  });

  it('refuses a range form it does not read rather than guessing', () => {
    expect(() => satisfies('26.0.0', '26.x')).toThrow(/cannot read "26.x"/);
    expect(() => satisfies('26.0.0', '>=22 <27')).toThrow(/cannot read/);
  });

  it('reads package.json', () => {
    expect(() => satisfies(process.versions.node, enginesRange())).not.toThrow();
  });
});

describe('the pinned Node (infra/node)', () => {
  const pkg = readJson('../../infra/node/package.json') as { optionalDependencies: Record<string, string> };
  const lock = readJson('../../infra/node/package-lock.json') as {
    packages: Record<string, { version?: string; integrity?: string }>;
  };
  const pins = Object.entries(pkg.optionalDependencies);

  it('is one exact release for every platform, on a line engines.node supports', () => {
    const versions = new Set(pins.map(([, v]) => v));
    expect(versions.size).toBe(1);
    const [version = ''] = versions;
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(satisfies(version, enginesRange())).toBe(true);
  });

  it('is locked with an integrity hash at the version package.json names', () => {
    for (const [name, version] of pins) {
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry?.version, name).toBe(version);
      expect(entry?.integrity, name).toMatch(/^sha512-/);
    }
  });
});

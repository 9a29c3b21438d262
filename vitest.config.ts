import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Apps import the public API as `tributary`; in this repository that is the sources.
const resolve = {
  alias: [
    { find: /^tributary$/, replacement: fileURLToPath(new URL('./app/index.ts', import.meta.url)) },
    {
      find: /^tributary\/testing$/,
      replacement: fileURLToPath(new URL('./app/testing.ts', import.meta.url)),
    },
  ],
};

export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        test: {
          name: 'unit',
          // Unit tests first (fast feedback), then the tiers that need the stack.
          sequence: { groupOrder: 0 },
          include: ['test/unit/**/*.unit.test.ts'],
          environment: 'node',
        },
      },
      {
        resolve,
        test: {
          // Real Kafka, schema registry and Redis, started once per run by the global setup.
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: [
            'test/integration/**/*.int.test.ts',
            'test/integration/**/*.browser.test.ts',
            'test/faults/**/*.fault.test.ts',
          ],
          environment: 'node',
          globalSetup: ['test/setup/stack.global.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // 2-core machines: the broker, registry and Redis share them with the tests.
          maxWorkers: 2,
        },
      },
    ],
  },
});

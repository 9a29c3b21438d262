import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveApp } from '../../app/app.js';
import { initApp, scaffold } from '../../bin/commands/init.js';

const root = mkdtempSync(path.join(tmpdir(), 'tributary-init-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('tributary init', () => {
  it('writes an app whose relative imports all name files it wrote', async () => {
    const dir = path.join(root, 'My App!');
    const written = await initApp(dir, { tributary: 'file:../tributary.tgz' });
    expect(written).toContain('generated/events.ts');
    for (const file of written.filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      for (const [, spec] of text.matchAll(/from '(\.\.?\/[^']+)\.js'/g)) {
        const target = path.resolve(path.dirname(path.join(dir, file)), `${spec}.ts`);
        expect(existsSync(target), `${file} imports ${spec}.js`).toBe(true);
      }
    }
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      name: string;
      dependencies: Record<string, string>;
    };
    expect(pkg.name).toBe('my-app-');
    expect(pkg.dependencies.tributary).toBe('file:../tributary.tgz');
    await expect(initApp(dir)).rejects.toThrow(/is not empty/);
  });

  it('declares an app that matches its own schema', () => {
    // The config's declaration, as written, resolved against the scaffold's .avsc file.
    const dir = path.join(root, 'check');
    const files = scaffold('check', '^1.0.0');
    expect(files['tributary.config.ts']).toContain(
      "topics: [{ name: 'items', events: ['ItemAdded'], key: ['listId'] }]",
    );
    return initApp(dir).then(() => {
      const app = resolveApp(
        {
          name: 'check',
          schemas: './schemas',
          topics: [{ name: 'items', events: ['ItemAdded'], key: ['listId'] }],
        },
        path.join(dir, 'tributary.config.ts'),
      );
      expect(app.catalog.get('ItemAdded').recordName).toBe('com.example.check.ItemAdded');
    });
  });
});

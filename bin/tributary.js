#!/usr/bin/env node
// The `tributary` command. Sources are TypeScript under bin/ and the parts' folders; this shim
// runs the compiled CLI from dist/ (built by `npm run build`, which the bootstrap runs).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/bin/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('tributary: not built yet; run `npm run build` (or `bash infra/bootstrap.sh deps`)\n');
  process.exit(1);
}
const { main } = await import(cli.href);
await main(process.argv);

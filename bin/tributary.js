#!/usr/bin/env node
// The `tributary` command. Sources are TypeScript under bin/ and the parts' folders; this shim
// runs the compiled CLI from dist/ (built by `npm run build`, which the bootstrap runs) on a
// supported Node: this one when its line is in package.json's engines.node, otherwise the one the
// bootstrap installed under .tributary/node (which the native engine was then built for).
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { enginesRange, installedNode, satisfies } from './node-support.js';

const range = enginesRange();
if (satisfies(process.versions.node, range)) {
  const cli = new URL('../dist/bin/cli.js', import.meta.url);
  if (!existsSync(fileURLToPath(cli))) {
    process.stderr.write(
      'tributary: not built yet; run `npm run build` (or `bash infra/bootstrap.sh deps`)\n',
    );
    process.exit(1);
  }
  const { main } = await import(cli.href);
  await main(process.argv);
} else if (existsSync(installedNode) && realpathSync(installedNode) !== realpathSync(process.execPath)) {
  handOver(installedNode);
} else {
  process.stderr.write(
    `tributary: Node ${process.version} is not supported (engines.node: ${range}); ` +
      '`bash infra/bootstrap.sh deps` installs a supported one under .tributary/node\n',
  );
  process.exit(1);
}

/** Runs this command again on `node`, with the same arguments and terminal, and exits as it does. */
function handOver(node) {
  const child = spawn(node, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the child from the terminal itself (same process group); passing it on as well
  // would be a second signal, which the long-running commands take as "exit at once".
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    process.stderr.write(`tributary: cannot start ${node}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
}

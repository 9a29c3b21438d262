// @ts-check
/**
 * Which Node.js Tributary runs on: the lines in package.json's `engines.node`. Plain JavaScript
 * that any Node can load, because two callers ask before anything is installed or built: the
 * bootstrap (is the machine's Node on a supported line, or must it install the pinned one?) and
 * the CLI shim (run here, or hand over to the Node the bootstrap installed?).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);

/**
 * The Node infra/bootstrap.sh installs (infra/node/package.json) when the machine's is not
 * supported. `.tributary/node` is a Node prefix: `bin/node`, and `include/node/` with the headers
 * node-gyp builds the native engine against. Under the checkout, not TRIBUTARY_STATE_DIR, so that
 * every stack (the tests', the bench's) finds the same one.
 */
export const installedNode = fileURLToPath(new URL('.tributary/node/bin/node', root));

/** package.json's `engines.node`. */
export function enginesRange() {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  const range = pkg.engines?.node;
  if (typeof range !== 'string') throw new Error('package.json has no engines.node');
  return range;
}

/**
 * Whether `version` (as `process.versions.node`: `26.12.1`, no `v`) satisfies `range`: one or
 * more alternatives joined by `||`, each `^M.m.p` (major M, at least M.m.p) or `>=M.m.p`. Any
 * other form throws, so that a range this reader does not understand is noticed, not misread.
 *
 * @param {string} version
 * @param {string} range
 * @returns {boolean}
 */
export function satisfies(version, range) {
  const actual = parse(version);
  return range.split('||').some((alternative) => {
    const m = /^\s*(\^|>=)\s*(\d+\.\d+\.\d+)\s*$/.exec(alternative);
    if (!m || m[2] === undefined) {
      throw new Error(
        `engines.node: cannot read "${alternative.trim()}" (write ^M.m.p or >=M.m.p, joined by ||)`,
      );
    }
    const floor = parse(m[2]);
    if (m[1] === '^' && actual[0] !== floor[0]) return false;
    for (let i = 0; i < 3; i++) {
      const a = actual[i] ?? 0;
      const f = floor[i] ?? 0;
      if (a !== f) return a > f;
    }
    return true;
  });
}

/**
 * @param {string} version
 * @returns {number[]}
 */
function parse(version) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`not a Node.js version: "${version}"`);
  return m.slice(1, 4).map(Number);
}

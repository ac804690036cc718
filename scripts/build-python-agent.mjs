// Builds dist/agent-bundle/python/: `sitecustomize.py` and the `sonde_agent` package from agent/python/,
// plus a vendored copy of websocket-client (Apache-2.0) as `sonde_agent/_vendor/websocket`, so the agent
// needs nothing but the standard library in the images it is injected into. websocket-client is taken
// from the build machine's Python (Debian: python3-websocket), or from SONDE_WEBSOCKET_CLIENT_DIR.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'agent/python');
const out = join(root, 'dist/agent-bundle/python');

function websocketClientDir() {
  const fromEnv = process.env.SONDE_WEBSOCKET_CLIENT_DIR;
  if (fromEnv) return fromEnv;
  for (const py of ['/usr/bin/python3', 'python3']) {
    try {
      const dir = execFileSync(py, ['-c', 'import os, websocket; print(os.path.dirname(websocket.__file__))'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      if (dir && existsSync(join(dir, '_core.py'))) return dir;
    } catch {
      // try the next interpreter
    }
  }
  for (const dir of ['/usr/lib/python3/dist-packages/websocket']) if (existsSync(join(dir, '_core.py'))) return dir;
  throw new Error('websocket-client not found: install python3-websocket (Debian) or set SONDE_WEBSOCKET_CLIENT_DIR');
}

const skip = (p) => !/__pycache__|\.pyc$/.test(p);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(src, 'sitecustomize.py'), join(out, 'sitecustomize.py'));
cpSync(join(src, 'sonde_agent'), join(out, 'sonde_agent'), { recursive: true, filter: skip });

const ws = websocketClientDir();
const vendor = join(out, 'sonde_agent/_vendor');
mkdirSync(join(vendor, 'websocket'), { recursive: true });
for (const f of readdirSync(ws)) {
  // The command-line dump tool and the tests are not part of the client.
  if (f.endsWith('.py') && f !== '_wsdump.py') cpSync(join(ws, f), join(vendor, 'websocket', f));
}
writeFileSync(join(vendor, '__init__.py'), '"""Third-party code vendored at build time (scripts/build-python-agent.mjs)."""\n');
writeFileSync(
  join(vendor, 'websocket', 'VENDORED.txt'),
  `websocket-client, copied from ${ws} by scripts/build-python-agent.mjs.\nLicensed under the Apache License 2.0 (https://github.com/websocket-client/websocket-client/blob/master/LICENSE).\n`,
);
console.log(`python agent bundle: ${out} (websocket-client from ${ws})`);

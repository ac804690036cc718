/**
 * The `--import` entry: `node --import sonde/agent app.js`, or `NODE_OPTIONS=--import=sonde/agent`.
 * Reads the environment once and starts the agent. Whatever goes wrong, the app starts as if the agent
 * were not there: the problem goes to stderr, never into the app.
 */
import { startAgent } from './agent.js';
import { readAgentConfig } from './config.js';

try {
  const config = readAgentConfig(process.env);
  startAgent(config);
} catch (err) {
  process.stderr.write(`sonde agent: not started: ${(err as Error)?.message ?? String(err)}\n`);
}

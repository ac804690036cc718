/**
 * The `--import` entry: `node --import sonde/agent app.js`, or `NODE_OPTIONS=--import=sonde/agent`.
 * Reads the environment once and starts the agent, on the main thread only (Node runs `--import`
 * preloads in every Worker too). Whatever goes wrong, the app starts as if the agent were not there:
 * the problem goes to stderr, never into the app. Outside this repository the agent is loaded from
 * its self-contained bundle instead (`--require DIR/preload.cjs`, see agent/README.md).
 */
import { startFromEnvironment } from './start-from-env.js';

startFromEnvironment(process.env);

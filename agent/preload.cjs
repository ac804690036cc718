// The Sonde agent's preload: `node --require DIR/preload.cjs app.js`, or injected as
// `NODE_OPTIONS=--require /sonde/agent/preload.cjs`. CommonJS and `--require` because every Node that
// a user may run accepts both (an unknown flag in NODE_OPTIONS, such as --import on an old Node, stops
// the app from starting). This file decides inside whether to load the agent (agent.cjs beside it):
//   - only on Node.js >= 20 with what the agent needs (the floor: the oldest runtime for which both of
//     the bundle's samplers are built, ABI 115, and whose diagnostics_channel, AsyncLocalStorage and
//     ES2022 the agent uses; agent/README.md, "Node versions");
//   - only on the main thread: Node runs preloads in every Worker too, and a worker pool must open one
//     connection, not one per Worker;
//   - only once per process, whatever loads it twice.
// Otherwise it writes one line to stderr and leaves the app untouched. It never throws into the app.
// Deliberately old syntax (no ?., ??, let/const in loops that an old parser could trip on): this
// file must parse on any Node, even one it then turns away.
'use strict';

var MIN_MAJOR = 20;

function say(line) {
  try {
    process.stderr.write('sonde agent: ' + line + '\n');
  } catch (e) {
    // stderr closed: nothing left to tell.
  }
}

/** Why this runtime cannot run the agent, or '' when it can. */
function unsupported() {
  var versions = process.versions || {};
  if (!versions.node || (process.release && process.release.name !== 'node')) return 'not Node.js (' + (process.release && process.release.name) + ')';
  var major = parseInt(String(versions.node).split('.')[0], 10);
  if (!(major >= MIN_MAJOR)) return 'Node.js ' + versions.node + ' is older than ' + MIN_MAJOR + ', the oldest the agent supports';
  var dc = require('diagnostics_channel');
  if (typeof dc.subscribe !== 'function') return 'Node.js ' + versions.node + ' lacks diagnostics_channel.subscribe';
  var ah = require('async_hooks');
  if (typeof ah.AsyncLocalStorage !== 'function') return 'Node.js ' + versions.node + ' lacks AsyncLocalStorage';
  return '';
}

function mainThread() {
  try {
    return require('worker_threads').isMainThread !== false;
  } catch (e) {
    return true; // no worker_threads at all: there is only the main thread.
  }
}

(function preload() {
  try {
    if (!mainThread()) return; // Workers: silent; the main thread speaks for the process.
    var loaded = Symbol.for('sonde.agent.preloaded');
    if (global[loaded]) return;
    global[loaded] = true;
    var why = unsupported();
    if (why) {
      say('not started: ' + why + '; the app runs without it');
      return;
    }
    require('./agent.cjs').startFromEnvironment(process.env);
  } catch (err) {
    say('not started: ' + ((err && err.message) || String(err)).split('\n')[0]);
  }
})();

// Instructions for indexing one file for function starts (read + parse + index), which CPU time on a
// shared machine cannot resolve. Since the parse moved to the agent's worker thread this is the worker's
// cost per file (the app's thread only looks the answer up); measured here on the main thread, directly. Run each mode under callgrind and subtract `none` (Node's start and
// the module loads):
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/fs.%p node test/bench/agent/function-start-instructions.mjs none FILE
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/fs.%p node test/bench/agent/function-start-instructions.mjs first FILE
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/fs.%p node test/bench/agent/function-start-instructions.mjs twice FILE
// (`twice`: the same file indexed a second time, so `twice - first` is a warm parse.)
// The "Collected" line of each run's output is the figure (`callgrind_annotate FILE | head` shows it too).
import { readFileSync } from 'node:fs';
import { indexFunctions } from '../../../dist/agent/sampler/function-parse.js';
import { functionAt } from '../../../dist/agent/sampler/function-index.js';
import { readBounded } from '../../../dist/agent/sampler/read-bounded.js';

const [mode = 'first', file = new URL('../../../dist/agent-bundle/node/agent.cjs', import.meta.url).pathname] = process.argv.slice(2);
const lines = readFileSync(file, 'utf8').split('\n').length;
const once = () => {
  const index = indexFunctions(readBounded(file, 64 << 20).toString('utf8'));
  return index && functionAt(index, lines >> 1, 1) ? 1 : 0;
};
let found = 0;
if (mode !== 'none') found += once();
if (mode === 'twice') found += once();
console.log(mode, file, lines, 'lines', found);

// Instructions for one first function-start lookup (read + parse + index of a file), which CPU time on
// a shared machine cannot resolve. Run each mode under callgrind and subtract `none` (Node's start and
// the module loads):
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/fs.%p node test/bench/agent/function-start-instructions.mjs none FILE
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/fs.%p node test/bench/agent/function-start-instructions.mjs first FILE
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/fs.%p node test/bench/agent/function-start-instructions.mjs twice FILE
// (`twice`: the same file indexed a second time by a fresh locator, so `twice - first` is a warm parse.)
// The "Collected" line of each run's output is the figure (`callgrind_annotate FILE | head` shows it too).
import { readFileSync } from 'node:fs';
import { FunctionStarts } from '../../../dist/agent/sampler/function-starts.js';

const [mode = 'first', file = new URL('../../../dist/agent-bundle/node/agent.cjs', import.meta.url).pathname] = process.argv.slice(2);
const lines = readFileSync(file, 'utf8').split('\n').length;
const limits = { maxFileBytes: 64 << 20, maxFiles: 10, maxIndexBytes: 64 << 20, maxParseBytes: 64 << 20 };
let found = 0;
if (mode !== 'none') found += new FunctionStarts(limits).startOf(file, lines >> 1, 1) ? 1 : 0;
if (mode === 'twice') found += new FunctionStarts(limits).startOf(file, lines >> 1, 1) ? 1 : 0;
console.log(mode, file, lines, 'lines', found);

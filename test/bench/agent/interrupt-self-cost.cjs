// What one interrupt of the native sampler costs, in instructions, for one build of the addon:
//   valgrind --tool=callgrind --callgrind-out-file=OUT node test/bench/agent/interrupt-self-cost.cjs ADDON.node
//   callgrind_annotate --tree=caller OUT | grep -A1 'InvokeApiInterruptCallbacks.*x)'
// The second line's "*" entry is OnInterrupt's own instructions (the lock, the bookkeeping, the lookup
// of its sampler), the first its total with the stack capture and the frame table; the count in
// parentheses is how many interrupts ran. A fixed three-deep stack spins in one context at 1 ms for two
// seconds, collecting every 50 ms. Compares two builds of interrupt_sampler.cc where the agent-level
// benchmark (instructions.mjs) cannot resolve a per-tick difference.
const addon = require(process.argv[2]);
const sampler = new addon.InterruptSampler();
const slot = [{ request: 1 }];
function leaf(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  return x;
}
function mid(ms) {
  return leaf(ms);
}
function top(ms) {
  return mid(ms);
}
sampler.start(1000, 0, slot, undefined);
let samples = 0;
for (let i = 0; i < 40; i++) {
  top(50);
  samples += sampler.collect().samples.length / 7;
}
sampler.stop();
console.log(`samples ${samples}`);

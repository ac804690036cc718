// One process of the tracking benchmark (tracking.mjs): runs synthetic units of work through the
// agent's request tracker (`transaction`, the path every HTTP request takes too) and reports the CPU
// spent per unit. Mode in argv[2]:
//   none     no agent: the unit is called directly
//   idle     the agent's tracker and profiler, no session
//   nomatch  a session running on a type no unit has: the sampler on (10 ms), nothing tracked
//   track10  / track1  every unit tracked by sessions sampling every 10 ms / 1 ms
//   restart10  as track10, but each session starts the sampler and stops it at its end
// Except in restart10 the sampler runs for the whole process (a background session on a type no unit
// has), so its start, a one-off per sampler start, stays out of the per-unit figure.
// A unit is what a request handler does at its smallest: start, await once, a little CPU, finish.
// Sessions take at most 10,000 units, so work comes in sessions of UNITS units, UNITS / 100 waves of
// 100 units in flight, measured to each session's end: the collect, and every record built and
// serialised to JSON as the operator link does (records not kept, as in operator sessions). The
// agent's parts are wired as `startAgent` wires them, without the HTTP hook and the link.
const mode = process.argv[2];
const UNITS = Number(process.env.SONDE_BENCH_UNITS ?? 10_000);
const SESSIONS = Number(process.env.SONDE_BENCH_SESSIONS ?? 20);
const WARM_SESSIONS = 5;
const DIST = process.env.SONDE_AGENT_DIST;

let tracker;
let profiler;
if (mode !== 'none') {
  const load = (path) => import(`${DIST}/${path}`);
  const [{ Catalogue }, { systemClock }, { createRootLogger }, { Profiler }, { RequestTracker }, { WallSampler }, { InterruptSampler }] = await Promise.all([
    load('catalogue/catalogue.js'),
    load('clock.js'),
    load('log.js'),
    load('profiling/profiler.js'),
    load('requests/request-tracker.js'),
    load('sampler/wall-sampler.js'),
    load('sampler/interrupt-sampler.js'),
  ]);
  const log = createRootLogger('error');
  // SONDE_SAMPLER=v8 measures V8's sampler; otherwise the interrupt sampler, the agent's default.
  const Sampler = process.env.SONDE_SAMPLER === 'v8' ? WallSampler : InterruptSampler;
  profiler = new Profiler(new Sampler(systemClock, log), systemClock, log, { warmupMs: 0 });
  tracker = new RequestTracker(new Catalogue(systemClock), profiler, log);
}

function work() {
  let x = 0;
  for (let i = 0; i < 200; i++) x = (x * 31 + i) | 0;
  return x;
}
const unit = async () => {
  await null;
  return work();
};
const run = tracker ? () => tracker.transaction('job', unit) : unit;

let sink = 0;
let sessions = 0;
const intervalMs = mode === 'track1' ? 1 : 10;
const startSession = (request) => {
  const session = profiler.start({ id: `s${sessions++}`, request, limit: UNITS, deadline: Date.now() + 600_000, sampleIntervalMs: intervalMs, retain: false });
  session.onRecord((r) => (sink += JSON.stringify(r).length));
  return session;
};
if (mode === 'nomatch' || mode.startsWith('track')) startSession('other');
async function oneSession() {
  const session = mode.startsWith('track') || mode === 'restart10' ? startSession('job') : undefined;
  for (let done = 0; done < UNITS; done += 100) {
    const wave = [];
    for (let i = 0; i < 100; i++) wave.push(run());
    await Promise.all(wave);
  }
  if (session) {
    const result = await session.done;
    if (result.reported !== UNITS) throw new Error(`session profiled ${result.reported} units, not ${UNITS}`);
  }
}

for (let i = 0; i < WARM_SESSIONS; i++) await oneSession();
const t0 = process.cpuUsage();
for (let i = 0; i < SESSIONS; i++) await oneSession();
const cpu = process.cpuUsage(t0);
process.send({ nsPerUnit: ((cpu.user + cpu.system) * 1000) / (SESSIONS * UNITS), sink });
profiler?.close();
process.exit(0);

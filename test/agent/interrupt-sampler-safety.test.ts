import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgentBuilt, NODES, ROOT } from './helpers/build.js';

const run = promisify(execFile);
const fixture = (name: string): string => join(ROOT, 'test/agent/fixtures', name);

/** Runs a fixture to its end: exit code, signal and output, whatever the code (no throw on failure). */
function outcome(file: string, args: string[], argv: string[] = []): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The signal numbers set in a /proc status mask (hex). */
function signalsIn(mask: string): Set<number> {
  const bits = BigInt(`0x${mask}`);
  const set = new Set<number>();
  for (let n = 1; n <= 64; n++) if ((bits >> BigInt(n - 1)) & 1n) set.add(n);
  return set;
}

// The host application comes first: whatever it does to its prototypes, however it ends, whatever signals
// it gets and whatever its seccomp profile refuses, the native sampler must not change what it does.
// Each on Node 20, 22 and 24, in processes of their own.
describe('the interrupt sampler in a hostile host', () => {
  let dir = '';
  let refuseTuning = '';
  beforeAll(() => {
    ensureAgentBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sonde-seccomp-'));
    refuseTuning = join(dir, 'refuse-tuning');
    // libseccomp-dev (.ci/run installs it): the profile is loaded by a small launcher that then execs node.
    execFileSync('gcc', ['-O2', '-o', refuseTuning, fixture('seccomp/refuse-tuning.c'), '-lseccomp'], { stdio: 'pipe' });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [node, bin] of Object.entries(NODES)) {
    // Before: the first throwing setter aborted the process (FATAL ERROR: v8::FromJust Maybe value is
    // Nothing), at the addon's load (its exports) or inside an interrupt (the frame table, contexts).
    it(`never runs an app's indexed or named setters on the prototypes, nor aborts on them, on Node ${node}`, async () => {
      const r = await outcome(bin, [fixture('sampler-setters.mjs')]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { hits: number; setup: boolean; ticks: number; frames: number; contexts: number };
      expect(out.hits).toBe(0);
      expect(out.setup).toBe(true);
      expect(out.ticks, r.stdout).toBeGreaterThan(20);
      expect(out.frames).toBeGreaterThan(0);
      expect(out.contexts).toBeGreaterThan(0);
    }, 30_000);

    // A race with the ticker (its RequestInterrupt against the isolate going) cannot be provoked on
    // demand: each end is repeated at random instants so that, run after run, it lands everywhere in a
    // tick. What must hold every time: the exit code the app chose, no signal, no fatal error.
    it(`lets a process sampling at 1 ms end with its own code (process.exit, an uncaught exception, reallyExit, terminated workers), on Node ${node}`, async () => {
      const cases: [string, number][] = [['exit', 7], ['throw', 1], ['reallyExit', 9]];
      for (let round = 0; round < 6; round++) {
        const results = await Promise.all(cases.map(([how]) => outcome(bin, [fixture('sampler-exit.mjs'), how, '30'])));
        results.forEach((r, i) => {
          const [how, code] = cases[i]!;
          const detail = `${how}: ${r.stderr}`;
          expect(r.signal, detail).toBeNull();
          expect(r.code, detail).toBe(code);
          expect(r.stderr, detail).not.toMatch(/FATAL|Assertion|Segmentation|core dumped|terminate called/);
          if (how === 'throw') expect(r.stderr).toMatch(/the app failed/);
        });
      }
      // Ten workers terminated while sampling, and the states the addon holds afterwards: none.
      const workers = await outcome(bin, [fixture('sampler-exit.mjs'), 'workers', '30']);
      expect(workers.code, workers.stderr).toBe(0);
      expect(workers.stdout.trim()).toBe('states 0');
    }, 120_000);

    // Before: the ticker inherited the JavaScript thread's mask (nothing blocked), so a signal sent to the
    // process could be handled on it.
    it(`keeps signals sent to the process off the ticker thread, and the app's handlers working, on Node ${node}`, async () => {
      const child = spawn(bin, [fixture('sampler-signals.mjs')], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const masks = JSON.parse((await lines.next()).value as string) as { tickers: number; ticker: string; js: string };
      expect(masks.tickers).toBe(1);
      const blocked = signalsIn(masks.ticker);
      // SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGPROF, SIGWINCH, SIGRTMAX.
      for (const n of [1, 2, 3, 10, 12, 13, 14, 15, 17, 27, 28, 64]) expect(blocked.has(n), `signal ${n} in ${masks.ticker}`).toBe(true);
      // The JavaScript thread's own mask is the app's: untouched (SIGUSR2 is not blocked there).
      expect(signalsIn(masks.js).has(12)).toBe(false);
      for (let i = 0; i < 40; i++) {
        child.kill('SIGUSR2');
        child.kill('SIGPIPE');
        child.stdin.write('sent\n');
        await new Promise((r) => setTimeout(r, 5));
      }
      child.stdin.end('done\n');
      const result = JSON.parse((await lines.next()).value as string) as { sent: number; usr2: number; ticks: number };
      const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
      expect(code, stderr).toBe(0);
      expect(result.sent).toBe(40);
      // Standard signals pending together merge into one: at least one per few sent reached the handler.
      expect(result.usr2).toBeGreaterThan(5);
      expect(result.ticks).toBeGreaterThan(10);
    }, 30_000);

    // Under a profile that answers sched_setattr and prctl with EPERM the ticker runs with the kernel's
    // defaults; the app serves, the sampler samples, and the agent's log says so once for two sessions.
    // (A profile that kills on either cannot be survived: see agent/native/README.md.)
    it(`serves and samples when a seccomp profile refuses sched_setattr and prctl, and logs it once, on Node ${node}`, async () => {
      const refused = await outcome(refuseTuning, [realpathSync(bin), fixture('sampler-server.mjs')]);
      expect(refused.code, refused.stderr).toBe(0);
      const out = JSON.parse(refused.stdout) as { served: number; ticks: number };
      expect(out.served).toBe(80);
      expect(out.ticks, refused.stdout).toBeGreaterThan(20);
      const logs = refused.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; refused?: Record<string, string> });
      const said = logs.filter((l) => l.refused !== undefined);
      expect(said, refused.stderr).toHaveLength(1);
      expect(said[0]!.refused).toEqual({ shortSlice: 'EPERM', exactWakeups: 'EPERM' });
      // Without the profile nothing is refused here, and nothing is said.
      const control = await run(bin, [fixture('sampler-server.mjs')], { timeout: 30_000 });
      expect(JSON.parse(control.stdout)).toMatchObject({ served: 80 });
      expect(control.stderr).not.toMatch(/refused/);
    }, 60_000);
  }

  it('finds the runtimes it tests', () => {
    for (const bin of Object.values(NODES)) expect(existsSync(bin), bin).toBe(true);
  });
});

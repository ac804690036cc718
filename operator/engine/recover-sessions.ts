import { describeProblems, resolveSpec } from '../../src/session/validate.js';
import { type EngineCore, R } from './engine-core.js';
import { fanOut, updateReadiness } from './fan-out.js';
import { recoveredRun } from './recovery.js';
import { activate, endWithNothing, finish } from './session-end.js';
import { endMessage } from './session-outcome.js';

/** After a restart: the sessions a previous operator left unfinished, resumed or ended (ADR 0002). */

/**
 * Loads the sessions a previous operator left running (after the pod directory synced). Those whose
 * deadline is ahead resume: their pods wait as Lost until their agents reconnect or match again. The
 * others end now with what they stored: DeadlineExceeded if the deadline passed while the operator was
 * down, OperatorRestarted if resuming is switched off. Either way they stay in memory for the linger,
 * so agents that reconnect with results held for them are bound to their pods and heard.
 */
export function recover(core: EngineCore): void {
  const now = core.clock.now();
  for (const stored of core.store.listSessions({ terminal: false })) {
    const run = recoveredRun(stored, core.store.podCounts(stored.id), now);
    core.runs.set(run.id, run);
    const resolved = resolveSpec(stored.spec);
    if (!resolved.ok) {
      finish(core, run, 'Failed', R.InvalidSpec, describeProblems(resolved.problems));
      continue;
    }
    run.resolved = resolved.spec;
    const created = Date.parse(run.createdAt);
    run.deadline = (Number.isFinite(created) ? created : now) + resolved.spec.durationMs;
    const partial = `${run.count} of ${resolved.spec.requests} requests profiled`;
    // Nothing stored is "nothing profiled" (Failed); requests agents still hold turn it Completed when they arrive (lateResults).
    if (run.deadline <= now) {
      if (run.count === 0) endWithNothing(core, run, 'the deadline passed while the operator was down; ');
      else finish(core, run, 'Completed', R.DeadlineExceeded, `the deadline passed while the operator was down; partial results: ${partial}`);
    } else if (!core.opts.resumeOnRestart) {
      if (run.count === 0) endWithNothing(core, run, 'the operator restarted and ended the session; ');
      else finish(core, run, 'Completed', R.OperatorRestarted, `the operator restarted; partial results: ${partial}`);
    } else if (run.count >= resolved.spec.requests) {
      finish(core, run, 'Completed', R.RequestsReached, endMessage(R.RequestsReached, run.count, resolved.spec.requests)!);
    } else {
      core.log.info({ session: run.id, requests: run.count }, 'resuming session after restart');
      if (run.life === 'Stopping') run.life = 'Running';
      activate(core, run);
      fanOut(core, run);
      updateReadiness(core, run);
      core.status.touch(run, true);
    }
  }
}

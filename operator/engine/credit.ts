import { connectionOf, takenBy } from './bound-parts.js';
import type { EngineCore } from './engine-core.js';
import type { PodRun, Run } from './session-run.js';
import { missing } from './taken-total.js';

/**
 * The credit scheme that keeps several agents from taking many more than N between them. Every agent
 * starts with a cap of what was missing when it started (fan-out.ts); as the running total nears N the
 * engine lowers the caps of the agents still sampling with `limit` (Sonde 0.4) to what each has taken
 * plus what is still missing. A cap never rises, so no agent is ever held below what the session
 * needs: whichever agent reaches its cap has, with what the others are known to have taken, made N
 * (`capFor`). What the caps bound: once the last `limit` arrived, the agents together take at most
 * N + (agents − 1) × (what was missing then); requests taken before a cap or a `stop` arrived still
 * finish and are counted.
 *
 * Cost: caps are re-sent only when what is missing has halved since the last round, and on every
 * change in the last `FINE_PHASE` requests: at most log2(N) + FINE_PHASE `limit` messages per agent,
 * and no pass over the parts on the other messages.
 */

/** Within this many requests of N every change of the total lowers the caps (each agent's slack is then tiny). */
export const FINE_PHASE = 16;

/**
 * The cap that lets this part alone make up what is missing and no more, in the agent's own count
 * (progress `requests + inFlight`). `takenBy` is at least the agent's count the engine knows, so
 * reaching this cap means the total across parts is N: a cap from here can never stall a session.
 */
export function capFor(pr: Pick<PodRun, 'conn' | 'requests' | 'claimed'>, left: number): number {
  return takenBy(pr as PodRun) + left;
}

/**
 * Whether a round of caps is due: what is missing halved since the last round, or, in the fine phase,
 * moved at all (a message that changed nothing of the total costs no pass over the parts).
 */
export function capsDue(run: Pick<Run, 'capsLeft'>, left: number): boolean {
  if (left <= 0) return false;
  if (run.capsLeft === undefined) return true;
  return left <= FINE_PHASE ? left < run.capsLeft : 2 * left <= run.capsLeft;
}

/** Lowers the caps of the session's sampling agents that honour `limit`, when a round is due (see above). */
export function tightenCaps(core: EngineCore, run: Run): void {
  if (run.life !== 'Running' || !core.hub.limit) return;
  const left = missing(run);
  if (!capsDue(run, left)) return;
  run.capsLeft = left;
  for (const pr of run.pods.values()) {
    if (pr.state !== 'Sampling' || pr.cap === undefined) continue;
    const next = capFor(pr, left);
    if (next >= pr.cap) continue;
    const agent = connectionOf(core, run, pr);
    if (agent && core.hub.limit(agent, run.id, next)) pr.cap = next;
  }
}

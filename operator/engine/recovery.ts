import type { SessionView } from '../../src/session/types.js';
import { UNKNOWN_PID, partKey } from './bound-parts.js';
import { podTransition } from './pod-part.js';
import { lifeOfPhase } from './session-life.js';
import type { PodRun, Run } from './session-run.js';
import { countAll } from './taken-total.js';

/**
 * The run of a session a previous operator left unfinished, rebuilt from the store: counts from the
 * stored requests (not from the stored status, which may lag), and every pod's part after the
 * `operatorRestarted` transition (no connection survives a restart). The engine then decides what
 * happens to it (resume, or end: docs/adr/0002 "Operator restart").
 */
export function recoveredRun(stored: SessionView, counts: Map<string, { requests: number; samples: number }>, now: number): Run {
  const run: Run = {
    id: stored.id,
    name: stored.name,
    namespace: stored.namespace,
    source: stored.source,
    createdAt: stored.createdAt,
    generation: stored.generation,
    spec: stored.spec,
    resolved: undefined,
    deadline: now,
    life: lifeOfPhase(stored.status.phase),
    conditions: stored.status.conditions.map((c) => ({ ...c })),
    observedGeneration: stored.status.observedGeneration ?? stored.generation,
    pods: new Map(),
    count: 0,
    taken: 0,
    hotspots: stored.status.hotspots ?? [],
    ...(stored.status.sampleInterval ? { sampleInterval: stored.status.sampleInterval } : {}),
    hotspotsStale: true,
    hotspotsAt: 0,
    lastEmit: 0,
  };
  if (stored.status.startedAt) run.startedAt = stored.status.startedAt;
  for (const p of stored.status.pods) {
    const c = counts.get(p.name) ?? { requests: 0, samples: 0 };
    const part = podTransition({ state: p.state, conn: undefined, ...(p.message ? { message: p.message } : {}) }, { type: 'operatorRestarted' });
    // One part per pod, whatever number of processes it had: the first of its processes to come back takes it.
    const pr: PodRun = { name: p.name, uid: '', pid: UNKNOWN_PID, incarnation: '', lastSeq: 0, requests: c.requests, samples: Math.max(c.samples, p.samples), ...part };
    run.pods.set(partKey(p.name, UNKNOWN_PID), pr);
  }
  for (const [pod, c] of counts) {
    const key = partKey(pod, UNKNOWN_PID);
    if (!run.pods.has(key)) run.pods.set(key, { name: pod, uid: '', pid: UNKNOWN_PID, incarnation: '', lastSeq: 0, state: 'Lost', conn: undefined, requests: c.requests, samples: c.samples });
  }
  run.count = [...run.pods.values()].reduce((s, p) => s + p.requests, 0);
  countAll(run);
  return run;
}

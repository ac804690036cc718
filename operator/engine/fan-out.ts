import type { PodIdentity } from '../../src/protocol/messages.js';
import { selectorMatches } from '../../src/session/validate.js';
import type { AgentConnection } from '../hub/agent-connection.js';
import { bind, claimablePart, partKey, podEvent, podStored, podTaken, podTookPart } from './bound-parts.js';
import { type EngineCore, T } from './engine-core.js';
import { readinessOf, whyNoPods } from './readiness.js';
import { lifeEvent } from './spec-apply.js';
import { takesAgents } from './session-life.js';
import { type Run, conditionOf, isTerminal, perPodLimit, setCondition } from './session-run.js';
import { missing } from './taken-total.js';

/** Which agents a session starts (fan-out, late joiners, reconnects) and how ready it says it is. */

/** Starts the session's agents in its namespace that match (fan-out), then reports readiness. */
export function fanOut(core: EngineCore, run: Run): void {
  for (const agent of core.hub.agentsIn(run.namespace)) consider(core, run, agent, false);
  updateReadiness(core, run);
}

/**
 * Starts `run` on `agent` if its pod belongs: its labels match the selector, or it already took part
 * (a reconnect, or another process of the pod, resumes whatever the labels say now). The per-pod cap
 * counts every process of the pod: `alreadyReported` carries the pod's stored count, so the cap holds
 * across reconnects and processes, and a pod that took its cap starts no more processes. An agent that
 * joins late is capped at what the session still misses (its running total), not at N.
 */
export function consider(core: EngineCore, run: Run, agent: AgentConnection, report = true): void {
  const spec = run.resolved;
  if (!spec || !takesAgents(run.life) || agent.pod.namespace !== run.namespace) return;
  // The agent says its part already ended (hello `ended`: it reached its cap or deadline while the
  // operator was away): starting it again would take requests past its cap. Its claim is adopted instead.
  if (agent.ended.includes(run.id)) return;
  const pr = claimablePart(core, run, agent);
  if (pr?.conn === agent.id) return;
  if (!pr && !podTookPart(run, agent)) {
    const labels = core.pods.labelsOf(agent.pod);
    if (!labels || !selectorMatches(spec.selector, labels)) return;
  }
  const limit = perPodLimit(spec);
  // The agent's cap: what its pod may still take, and no more than the session still misses (credit.ts).
  const cap = Math.min(limit - podTaken(run, agent.pod.name), missing(run));
  if (cap <= 0) return;
  const already = podStored(run, agent.pod.name);
  const sent = core.hub.start(agent, {
    type: 'start',
    session: run.id,
    request: spec.request,
    maxRequests: already + cap,
    deadline: run.deadline,
    sampleIntervalMs: spec.sampleIntervalMs,
    ...(already > 0 ? { alreadyReported: already } : {}),
  });
  if (!sent) return;
  let part = pr;
  if (!part) {
    part = { name: agent.pod.name, uid: agent.pod.uid, conn: undefined, pid: agent.agent.pid, incarnation: '', lastSeq: 0, state: 'Pending', requests: 0, samples: 0 };
    run.pods.set(partKey(part.name, part.pid), part);
  }
  bind(core, part, agent);
  // An agent that still runs the session (hello named it) ignores this start and keeps the cap it had:
  // unknown here, so the next round of caps sends it a `limit` whatever it is.
  part.cap = agent.claimed.includes(run.id) ? Number.MAX_SAFE_INTEGER : cap;
  run.capsLeft ??= missing(run);
  podEvent(core, run, part, { type: 'started', conn: agent.id });
  if (lifeEvent(core, run, { type: 'agentStarted' })) run.startedAt = new Date(core.clock.now()).toISOString();
  if (report) {
    updateReadiness(core, run);
    core.status.touch(run, true);
  }
}

export function updateReadiness(core: EngineCore, run: Run): void {
  if (!run.resolved || isTerminal(run)) return;
  const r = readinessOf(run, () => whyNoPods(run, core.pods, (ns) => core.hub.agentsIn(ns)));
  setCondition(run, T.ready, r.status, r.reason, r.message, core.clock.now());
}

export function podChanged(core: EngineCore, pod: PodIdentity): void {
  const agents = [...core.hub.agentsOf(pod)];
  for (const run of core.active.get(pod.namespace) ?? []) {
    for (const agent of agents) consider(core, run, agent);
    refreshWaiting(core, run);
  }
}

/** A session no pod has joined yet re-explains why (NoAgents / NoMatchingPods) when agents or pods change. */
export function refreshWaiting(core: EngineCore, run: Run): void {
  if (run.pods.size > 0) return;
  const before = conditionOf(run, T.ready);
  const was = `${before?.reason}|${before?.message}`;
  updateReadiness(core, run);
  const after = conditionOf(run, T.ready);
  if (`${after?.reason}|${after?.message}` !== was) core.status.touch(run);
}

import type { SessionView } from '../../src/session/types.js';
import { describeProblems, resolveSpec } from '../../src/session/validate.js';
import type { SessionInput } from './contracts.js';
import { type EngineCore, R, T } from './engine-core.js';
import { fanOut } from './fan-out.js';
import { checkTypeSeen } from './request-type-seen.js';
import { activate, deactivate, linger } from './session-end.js';
import { type LifeEvent, lifeTransition } from './session-life.js';
import { type Run, conditionOf, displaySpec, sameSpec, setCondition } from './session-run.js';

/** Desired state in: a new session, a spec accepted or refused, an edit by the spec-edit rule (ADR 0002). */

export function lifeEvent(core: EngineCore, run: Run, event: LifeEvent): boolean {
  const next = lifeTransition(run.life, event);
  if (next === run.life) return false;
  run.life = next;
  return true;
}

export function create(core: EngineCore, input: SessionInput): Run {
  const run: Run = {
    id: input.id,
    name: input.name,
    namespace: input.namespace,
    source: input.source,
    createdAt: input.createdAt,
    generation: input.generation,
    spec: {} as Run['spec'],
    resolved: undefined,
    deadline: 0,
    life: 'Pending',
    conditions: [],
    observedGeneration: input.generation,
    pods: new Map(),
    count: 0,
    taken: 0,
    hotspots: [],
    hotspotsStale: false,
    hotspotsAt: 0,
    lastEmit: 0,
  };
  core.runs.set(run.id, run);
  accept(core, run, input.spec);
  return run;
}

/** Validates a spec and, if it is good, starts waiting for (and fanning out to) agents. */
export function accept(core: EngineCore, run: Run, spec: unknown): void {
  const now = core.clock.now();
  const result = resolveSpec(spec);
  if (!result.ok) {
    run.spec = (spec && typeof spec === 'object' ? structuredClone(spec) : {}) as Run['spec'];
    run.resolved = undefined;
    lifeEvent(core, run, { type: 'specInvalid' });
    run.completedAt = new Date(now).toISOString();
    const message = describeProblems(result.problems);
    setCondition(run, T.specAccepted, 'False', R.InvalidSpec, message, now);
    setCondition(run, T.ready, 'False', R.InvalidSpec, 'the spec is invalid', now);
    setCondition(run, T.complete, 'True', R.InvalidSpec, message, now);
    // A warning about the old spec's request type would mislead: the spec it judged is gone.
    run.conditions = run.conditions.filter((c) => c.type !== T.requestTypeSeen);
    core.log.warn({ session: run.id, problems: result.problems }, 'invalid session spec');
    core.status.touch(run, true);
    linger(core, run);
    return;
  }
  core.lingering.get(run.id)?.();
  core.lingering.delete(run.id);
  run.resolved = result.spec;
  run.spec = displaySpec(result.spec);
  const created = Date.parse(run.createdAt);
  run.deadline = (Number.isFinite(created) ? created : now) + result.spec.durationMs;
  lifeEvent(core, run, { type: 'specAccepted' });
  run.completedAt = undefined;
  setCondition(run, T.specAccepted, 'True', R.Accepted, `profiling the next ${result.spec.requests} "${result.spec.request}" requests`, now);
  setCondition(run, T.complete, 'False', R.Started, `ends at ${result.spec.requests} requests or at ${new Date(run.deadline).toISOString()}`, now);
  checkTypeSeen(core, run);
  activate(core, run);
  fanOut(core, run);
  core.status.touch(run, true);
}

/**
 * A new generation of a session the engine runs. The rule (ADR 0002): a spec is applied while the
 * session has not started sampling (Pending, or Invalid); once an agent has been started, a changed
 * spec is refused with SpecChangeRefused and the session goes on with the spec it started with. An
 * edit that resolves to the same spec is accepted silently (metadata-only edits).
 */
export function edit(core: EngineCore, run: Run, input: SessionInput): void {
  const now = core.clock.now();
  run.generation = input.generation;
  run.observedGeneration = input.generation;
  const notStarted = (run.life === 'Pending' && run.pods.size === 0) || run.life === 'Invalid';
  if (notStarted) {
    deactivate(core, run);
    run.conditions = run.conditions.filter((c) => c.type === T.specAccepted);
    accept(core, run, input.spec);
    return;
  }
  const next = resolveSpec(input.spec);
  if (next.ok && run.resolved && sameSpec(next.spec, run.resolved)) {
    setCondition(run, T.specAccepted, 'True', R.Accepted, conditionOf(run, T.specAccepted)?.message ?? '', now);
  } else {
    const why = next.ok ? 'the session has started sampling' : `the new spec is invalid (${describeProblems(next.problems)})`;
    setCondition(run, T.specAccepted, 'False', R.SpecChangeRefused, `spec change refused: ${why}; it goes on with the spec it started with. Delete and re-create it to change it`, now);
  }
  core.status.touch(run, true);
}

/** A finished session is never run again; a changed spec on it is recorded as refused. */
export function applyToStored(core: EngineCore, stored: SessionView, input: SessionInput): SessionView {
  if (input.generation === stored.generation) return stored;
  const now = new Date(core.clock.now()).toISOString();
  stored.generation = input.generation;
  stored.status.observedGeneration = input.generation;
  const cond = stored.status.conditions.find((c) => c.type === T.specAccepted);
  const message = 'spec change refused: the session has finished; create a new session to profile again';
  if (cond) {
    if (cond.status !== 'False') cond.lastTransitionTime = now;
    Object.assign(cond, { status: 'False', reason: R.SpecChangeRefused, message, observedGeneration: input.generation });
  } else {
    stored.status.conditions.push({ type: T.specAccepted, status: 'False', reason: R.SpecChangeRefused, message, lastTransitionTime: now, observedGeneration: input.generation });
  }
  core.store.saveSession(stored);
  core.status.announce(stored);
  core.handedOver.add(stored.id);
  return stored;
}

import type { SessionEngine, SessionInput } from '../../../operator/engine/contracts.js';
import type { ProfilingSessionSpec, ProfilingSessionStatus, SessionView } from '../../../src/session/types.js';

export type EngineCall = { op: 'apply'; input: SessionInput } | { op: 'remove'; id: string };

/**
 * A SessionEngine that records what the controller asks of it and emits statuses the test decides,
 * so the controller and the status writer are exercised through our own interface, not through mocks
 * of client-node. apply() is idempotent per (id, generation), as the contract requires.
 */
export class RecordingEngine implements SessionEngine {
  readonly calls: EngineCall[] = [];
  private readonly views = new Map<string, SessionView>();
  private readonly listeners = new Set<(view: SessionView) => void>();

  apply(input: SessionInput): SessionView {
    this.calls.push({ op: 'apply', input: structuredClone(input) });
    const existing = this.views.get(input.id);
    if (existing && existing.generation === input.generation) return structuredClone(existing);
    const spec = input.spec as ProfilingSessionSpec;
    const view: SessionView = {
      id: input.id,
      name: input.name,
      namespace: input.namespace,
      source: input.source,
      createdAt: input.createdAt,
      generation: input.generation,
      spec,
      status: existing?.status ?? {
        phase: 'Pending',
        conditions: [],
        requestsProfiled: 0,
        progress: `0/${spec.requests}`,
        pods: [],
        hotspots: [],
      },
    };
    view.status = { ...view.status, observedGeneration: input.generation };
    this.views.set(input.id, view);
    this.emit(view);
    return structuredClone(view);
  }

  remove(id: string): void {
    this.calls.push({ op: 'remove', id });
    const view = this.views.get(id);
    if (view && (view.status.phase === 'Pending' || view.status.phase === 'Running')) {
      this.setStatus(id, { phase: 'Completed', conditions: [cond('Complete', 'True', 'Deleted', 'deleted')] });
    }
  }

  get(id: string): SessionView | undefined {
    const v = this.views.get(id);
    return v ? structuredClone(v) : undefined;
  }

  list(): SessionView[] {
    return [...this.views.values()].map((v) => structuredClone(v));
  }

  onStatus(listener: (view: SessionView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Test control: change a session's observed status and emit it. */
  setStatus(id: string, patch: Partial<ProfilingSessionStatus>): SessionView {
    const view = this.views.get(id);
    if (!view) throw new Error(`no session ${id}`);
    view.status = { ...view.status, ...patch };
    this.emit(view);
    return structuredClone(view);
  }

  /** Test control: a session the engine has (e.g. recovered from its store) without any object. */
  seed(view: SessionView): void {
    this.views.set(view.id, structuredClone(view));
  }

  applies(id?: string): SessionInput[] {
    return this.calls.flatMap((c) => (c.op === 'apply' && (!id || c.input.id === id) ? [c.input] : []));
  }

  removes(): string[] {
    return this.calls.flatMap((c) => (c.op === 'remove' ? [c.id] : []));
  }

  private emit(view: SessionView): void {
    for (const l of this.listeners) l(structuredClone(view));
  }
}

export function cond(type: string, status: 'True' | 'False', reason: string, message: string) {
  return { type, status, reason, message, lastTransitionTime: new Date().toISOString() };
}

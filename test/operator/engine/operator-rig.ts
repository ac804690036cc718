import type { SessionView } from '../../../src/session/types.js';
import { ManualClock } from '../../../operator/clock.js';
import type { SessionInput } from '../../../operator/engine/contracts.js';
import { Engine, type EngineOptions } from '../../../operator/engine/engine.js';
import { HelloLabelDirectory } from '../../../operator/hub/hello-label-directory.js';
import type { SqliteStore } from '../../../operator/store/sqlite-store.js';
import { FakeAgent } from '../../harness/fake-agent.js';
import { type HubServer, pod, silentLog, startHub, tokenFor } from '../hub/hub-server.js';
import { openStore } from '../store/store-fixtures.js';

/**
 * A whole data path on loopback: a real hub on an HTTP server, a real SQLite file, the engine with an
 * injected clock for deadlines and throttling (the hub keeps real time so heartbeats stay out of the way),
 * and fake agents that dial in. Restarting builds a new hub, store and engine over the same file.
 */
export class OperatorRig {
  store!: SqliteStore;
  hub!: HubServer;
  engine!: Engine;
  readonly statuses: SessionView[] = [];
  readonly agents: FakeAgent[] = [];

  private constructor(
    readonly file: string,
    readonly clock: ManualClock,
    readonly options: EngineOptions,
  ) {}

  static async start(file: string, options: EngineOptions = {}, clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000)): Promise<OperatorRig> {
    const rig = new OperatorRig(file, clock, options);
    await rig.boot();
    return rig;
  }

  async boot(): Promise<void> {
    this.store = openStore(this.file, this.clock);
    this.hub = await startHub();
    this.engine = new Engine({
      hub: this.hub.hub,
      store: this.store,
      podDirectory: new HelloLabelDirectory(this.hub.hub),
      log: silentLog,
      baseURL: 'http://sonde.test/',
      clock: this.clock,
      options: this.options,
    });
    this.engine.onStatus((v) => this.statuses.push(v));
  }

  /** Stops the operator (engine, hub, store) as a restart does; agents see their sockets close. */
  async stop(): Promise<void> {
    this.engine.close();
    await this.hub.close();
    this.store.close();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.boot();
  }

  async agent(name: string, labels: Record<string, string> = { app: 'shop' }, extra: Partial<Parameters<typeof FakeAgent.connect>[0]> = {}): Promise<FakeAgent> {
    const p = pod(name);
    const a = await FakeAgent.connect({ url: this.hub.url, token: tokenFor(p), pod: p, labels, pid: 100, ...extra });
    this.agents.push(a);
    return a;
  }

  input(id: string, spec: Record<string, unknown>, generation = 1, name = id): SessionInput {
    return { id, name, namespace: 'shop', source: 'api', createdAt: new Date(this.clock.now()).toISOString(), generation, spec };
  }

  view(id: string): SessionView {
    const v = this.engine.get(id);
    if (!v) throw new Error(`no session ${id}`);
    return v;
  }

  condition(id: string, type: string): SessionView['status']['conditions'][number] | undefined {
    return this.view(id).status.conditions.find((c) => c.type === type);
  }

  async close(): Promise<void> {
    for (const a of this.agents) a.kill();
    await this.stop();
  }
}

export const SPEC = { selector: { matchLabels: { app: 'shop' } }, request: 'GET /a', requests: 10, duration: '1m', sampleInterval: '10ms' };

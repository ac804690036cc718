import type { Logger } from 'pino';
import type { PodIdentity, RequestTypeStats } from '../../src/protocol/messages.js';
import type { Clock } from '../clock.js';
import type { AgentConnection } from '../hub/agent-connection.js';
import type { CatalogueSnapshot, SqliteStore } from '../store/sqlite-store.js';

/** Agents' catalogues, written to the store in batches (one write per interval, the latest per pod). */
export class CatalogueQueue {
  private readonly queue = new Map<string, CatalogueSnapshot>();
  private cancel: (() => void) | undefined;

  constructor(
    private readonly store: Pick<SqliteStore, 'saveCatalogue'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly flushMs: number,
    private readonly describe: (agent: AgentConnection) => { workload: string; labels: Record<string, string> },
  ) {}

  add(agent: AgentConnection, entries: RequestTypeStats[]): void {
    const { workload, labels } = this.describe(agent);
    this.queue.set(podKey(agent.pod), {
      pod: { ...agent.pod },
      workload,
      labels: { ...labels },
      runtime: agent.agent.runtime,
      runtimeVersion: agent.agent.runtimeVersion,
      agentVersion: agent.agent.agentVersion,
      entries,
      updatedAt: this.clock.now(),
    });
    this.cancel ??= this.clock.schedule(this.flushMs, () => {
      this.cancel = undefined;
      this.flush();
    });
  }

  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    const batch = [...this.queue.values()];
    this.queue.clear();
    try {
      this.store.saveCatalogue(batch);
    } catch (err) {
      this.log.error({ err }, 'catalogue could not be stored');
    }
  }
}

function podKey(pod: PodIdentity): string {
  return `${pod.namespace}/${pod.name}`;
}

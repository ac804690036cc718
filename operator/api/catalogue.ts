import type { FastifyInstance } from 'fastify';
import type { RequestTypeStats } from '../../src/protocol/messages.js';
import type { AgentInfo } from '../store/contracts.js';
import type { ApiDeps } from './deps.js';
import { workloadFromPodName } from '../../src/session/workload.js';
import { canRead } from '../auth/access.js';

/** One request type across every connected agent that has seen it. */
export interface RequestTypeRow extends RequestTypeStats {
  pods: number;
  namespaces: string[];
  workloads: string[];
}

/**
 * Merges the agents' catalogues by request type. Counts and errors add up. Agents report percentiles,
 * not histograms, so exact merged percentiles cannot be had: p50 and p90 are count-weighted means of
 * the agents' values and p99 is the worst agent's, which never hides a slow pod.
 */
export function mergeCatalogues(agents: AgentInfo[]): RequestTypeRow[] {
  interface Acc {
    count: number;
    errors: number;
    p50: number;
    p90: number;
    p99: number;
    weight: number;
    pods: Set<string>;
    namespaces: Set<string>;
    workloads: Set<string>;
  }
  const byType = new Map<string, Acc>();
  for (const agent of agents) {
    for (const entry of agent.catalogue) {
      let acc = byType.get(entry.type);
      if (!acc) {
        acc = { count: 0, errors: 0, p50: 0, p90: 0, p99: 0, weight: 0, pods: new Set(), namespaces: new Set(), workloads: new Set() };
        byType.set(entry.type, acc);
      }
      acc.count += entry.count;
      acc.errors += entry.errors;
      const w = Math.max(entry.count, 1);
      acc.p50 += entry.p50Ms * w;
      acc.p90 += entry.p90Ms * w;
      acc.weight += w;
      acc.p99 = Math.max(acc.p99, entry.p99Ms);
      acc.pods.add(`${agent.pod.namespace}/${agent.pod.name}`);
      acc.namespaces.add(agent.pod.namespace);
      acc.workloads.add(workloadFromPodName(agent.pod.name, agent.labels));
    }
  }
  const round = (v: number): number => Math.round(v * 100) / 100;
  return [...byType.entries()]
    .map(([type, a]) => ({
      type,
      count: a.count,
      errors: a.errors,
      p50Ms: round(a.p50 / a.weight),
      p90Ms: round(a.p90 / a.weight),
      p99Ms: round(a.p99),
      pods: a.pods.size,
      namespaces: [...a.namespaces].sort(),
      workloads: [...a.workloads].sort(),
    }))
    .sort((x, y) => y.count - x.count || (x.type < y.type ? -1 : 1));
}

/** `/api/v1/request-types` and `/api/v1/agents`. */
export function catalogueRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Querystring: { namespace?: string } }>('/api/v1/request-types', async (req) => {
    const ns = req.query.namespace;
    const agents = deps.hub.agents().filter((a) => (!ns || a.pod.namespace === ns) && canRead(req.access, a.pod.namespace));
    return { items: mergeCatalogues(agents) };
  });

  app.get<{ Querystring: { namespace?: string } }>('/api/v1/agents', async (req) => {
    const ns = req.query.namespace;
    const items = deps.hub
      .agents()
      .filter((a) => (!ns || a.pod.namespace === ns) && canRead(req.access, a.pod.namespace))
      .map(({ catalogue: _catalogue, ...rest }) => rest);
    return { items };
  });
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionPhase, SessionView } from '../../../src/session/types.js';
import type { Clock } from '../../../operator/clock.js';
import { type RetentionOptions, SqliteStore } from '../../../operator/store/sqlite-store.js';
import { silentLog } from '../hub/hub-server.js';

/** A temporary directory removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openStore(file: string, clock?: Clock, retention: Partial<RetentionOptions> = { intervalMs: 0 }): SqliteStore {
  return new SqliteStore({ file, log: silentLog, ...(clock ? { clock } : {}), retention });
}

export function sessionView(id: string, options: { namespace?: string; name?: string; request?: string; phase?: SessionPhase; createdAt?: string; completedAt?: string } = {}): SessionView {
  const phase = options.phase ?? 'Running';
  const view: SessionView = {
    id,
    name: options.name ?? id,
    namespace: options.namespace ?? 'shop',
    source: 'api',
    createdAt: options.createdAt ?? '2026-01-01T00:00:00.000Z',
    generation: 1,
    spec: { selector: {}, request: options.request ?? 'GET /a', requests: 100, duration: '5m', sampleInterval: '10ms' },
    status: { phase, conditions: [], requestsProfiled: 0, progress: '0/100', pods: [], hotspots: [] },
  };
  if (options.completedAt) view.status.completedAt = options.completedAt;
  return view;
}

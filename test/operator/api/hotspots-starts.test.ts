import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startOperator, type RunningOperator } from '../../../operator/main.js';
import { CallTreeBuilder } from '../../../src/model/call-tree-builder.js';
import { makeFrame } from '../../../src/model/frame.js';
import { serializeTree } from '../../../src/model/serialized.js';
import type { SessionView } from '../../../src/session/types.js';
import { fakeRequest, type FakeAgent } from '../../harness/fake-agent.js';
import { startRig, waitForPhase, type Rig } from './api-harness.js';

/**
 * Cluster-wide hotspots over a session recorded before agents reported start lines and one after:
 * the same function must be one row (issue 14's leftover). Real operator, real SQLite store, real
 * WebSocket agent and HTTP API; then the operator restarts on the same files and answers the same.
 */
const TYPE = 'GET /orders';
const FILE = '/app/src/orders.js';
const json = { 'content-type': 'application/json' };

/** A request whose tree has priceOrder sampled at lines 24 and 34, with or without its start (line 20). */
function record(withStarts: boolean, samples: [number, number]) {
  const start = withStarts ? 20 : undefined;
  const b = new CallTreeBuilder();
  const handler = makeFrame('handle', FILE, 8, 5, 'code', undefined, withStarts ? 5 : undefined);
  const w = (n: number) => ({ samples: n, wallUs: n * 1000, cpuUs: 0 });
  b.addStack([handler, makeFrame('priceOrder', FILE, 24, 9, 'code', undefined, start)], w(samples[0]));
  b.addStack([handler, makeFrame('priceOrder', FILE, 34, 3, 'code', undefined, start)], w(samples[1]));
  if (withStarts) {
    // A second priceOrder of the same file (another class's method), later in it: it stays its own row.
    b.addStack([handler, makeFrame('priceOrder', FILE, 63, 3, 'code', undefined, 60)], w(5));
    b.addStack([handler, makeFrame('applyTax', FILE, 14, 3, 'code', undefined, 12)], w(6));
  } else {
    // Sampled above the only start any session knows for an applyTax (12): not inside it, so not joined.
    b.addStack([handler, makeFrame('applyTax', FILE, 10, 3)], w(7));
  }
  const total = samples[0] + samples[1] + (withStarts ? 11 : 7);
  return { ...fakeRequest(TYPE, { samples: total, durationMs: total }), tree: serializeTree(b.build()) };
}

interface Hot {
  items: { frame: { name: string; file: string; line: number }; selfUs: number; samples: number; groups: { sessions: string[] }[] }[];
  totalUs: number;
}

let rig: Rig;
let agent: FakeAgent;
const sessions: string[] = [];

async function runSession(base: string, name: string, withStarts: boolean, samples: [number, number]): Promise<string> {
  const res = await fetch(`${base}/api/v1/sessions`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ name, spec: { selector: { matchLabels: { app: 'shop' } }, request: TYPE, requests: 1, duration: '1m' } }),
  });
  expect(res.status).toBe(201);
  const s = (await res.json()) as SessionView;
  await agent.waitFor((m) => m.type === 'start' && m.session === s.id);
  agent.report(s.id, [record(withStarts, samples)]);
  await waitForPhase(base, s.id, ['Completed']);
  return s.id;
}

const priceRows = (hot: Hot) => hot.items.filter((i) => i.frame.name === 'priceOrder').map((i) => [i.frame.line, i.selfUs, i.samples, i.groups.flatMap((g) => g.sessions).sort()]);

beforeAll(async () => {
  rig = await startRig();
  agent = await rig.connect({ pod: { name: 'shop-0', namespace: 'default', uid: '' }, labels: { app: 'shop' }, catalogue: [{ type: TYPE, count: 5, errors: 0, p50Ms: 1, p90Ms: 2, p99Ms: 3 }] });
  sessions.push(await runSession(rig.op.url, 'before-starts', false, [2, 30]));
  sessions.push(await runSession(rig.op.url, 'after-starts', true, [3, 40]));
});

afterAll(async () => {
  await rig?.close();
});

describe('cluster hotspots across sessions with and without start lines', () => {
  const expected = () => [
    // One row: both sessions' priceOrder at lines 24/34 (2+30 and 3+40 samples), at its start line.
    [20, 75_000, 75, [...sessions].sort()],
    // The other priceOrder of the file, which only the newer session saw.
    [60, 5_000, 5, [sessions[1]]],
  ];

  it('lists a function once when one session knows its start and another does not', async () => {
    const hot = (await (await fetch(`${rig.op.url}/api/v1/hotspots?limit=50`)).json()) as Hot;
    expect(priceRows(hot)).toEqual(expected());
    // And again from the stored weights, without recomputing them.
    const again = (await (await fetch(`${rig.op.url}/api/v1/hotspots?limit=50`)).json()) as Hot;
    expect(priceRows(again)).toEqual(expected());
    // Per request type and by total weight, the same.
    const byTotal = (await (await fetch(`${rig.op.url}/api/v1/hotspots?limit=50&by=total&request=${encodeURIComponent(TYPE)}`)).json()) as Hot;
    expect(byTotal.items.filter((i) => i.frame.name === 'priceOrder')).toHaveLength(2);
  });

  it('joins only a function that begins at or before the line the older session sampled', async () => {
    const hot = (await (await fetch(`${rig.op.url}/api/v1/hotspots?limit=50`)).json()) as Hot;
    const tax = hot.items.filter((i) => i.frame.name === 'applyTax').map((i) => [i.frame.line, i.samples, i.groups.flatMap((g) => g.sessions)]);
    expect(tax.sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual([
      [10, 7, [sessions[0]]],
      [12, 6, [sessions[1]]],
    ]);
  });

  it('answers the same after the operator restarts on the same store', async () => {
    await rig.op.close();
    const config = loadConfig(['--standalone', '--port', '0', '--data', join(rig.dir, 'data'), '--ui-dir', rig.uiDir, '--log-level', 'error'], {}, rig.dir);
    let op: RunningOperator | undefined;
    try {
      op = await startOperator(config, { logDestination: rig.logs });
      const hot = (await (await fetch(`${op.url}/api/v1/hotspots?limit=50`)).json()) as Hot;
      expect(priceRows(hot)).toEqual(expected());
    } finally {
      await op?.close();
      // rig.close() closes its own operator again; make that a no-op.
      rig.op = { ...rig.op, close: async () => {} };
    }
  });
});

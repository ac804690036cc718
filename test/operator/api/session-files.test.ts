import { mkdirSync, mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../../src/session/types.js';
import { eventually, startRig, type Rig } from './api-harness.js';

let rig: Rig;
let dir: string;

const doc = (name: string, request: string, requests = 10): string => `apiVersion: sonde.dev/v1alpha1
kind: ProfilingSession
metadata:
  name: ${name}
spec:
  selector: {matchLabels: {app: shop}}
  request: "${request}"
  requests: ${requests}
  duration: 10m
`;

async function sessions(): Promise<SessionView[]> {
  return ((await (await fetch(`${rig.op.url}/api/v1/sessions`)).json()) as { items: SessionView[] }).items;
}

async function byName(name: string): Promise<SessionView | undefined> {
  return (await sessions()).find((s) => s.name === name);
}

/** Writes a file the way editors do: a temporary file renamed over the old one. */
function save(file: string, text: string): void {
  writeFileSync(`${file}.tmp~`, text);
  renameSync(`${file}.tmp~`, file);
}

beforeAll(async () => {
  dir = join(mkdtempSync(join(tmpdir(), 'sonde-files-')), 'sessions');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'shop.yaml'), `${doc('orders', 'GET /api/orders/:id')}---\n${doc('search', 'GET /api/search')}`);
  writeFileSync(join(dir, 'notes.txt'), 'not a session file');
  rig = await startRig(['--sessions', dir]);
});

afterAll(async () => {
  await rig?.close();
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

describe('sessions from YAML files', () => {
  it('applies every document at start, as file sessions', async () => {
    const list = await sessions();
    expect(list.map((s) => [s.name, s.source, s.generation, s.spec.request]).sort()).toEqual([
      ['orders', 'file', 1, 'GET /api/orders/:id'],
      ['search', 'file', 1, 'GET /api/search'],
    ]);
  });

  it('applies an edit as the next generation, and a new file as new sessions', async () => {
    const orders = (await byName('orders'))!;
    save(join(dir, 'shop.yaml'), `${doc('orders', 'GET /api/orders/:id', 20)}---\n${doc('search', 'GET /api/search')}`);
    const edited = await eventually(async () => {
      const s = await byName('orders');
      return s && s.generation === 2 ? s : undefined;
    }, 10_000, 'generation 2');
    expect(edited.id).toBe(orders.id);
    save(join(dir, 'more.yml'), doc('checkout', 'POST /api/checkout'));
    await eventually(() => byName('checkout'), 10_000, 'checkout session');
  });

  it('logs a malformed file with its problems and keeps its sessions as they were', async () => {
    const before = (await byName('search'))!;
    save(join(dir, 'shop.yaml'), 'kind: ProfilingSession\nmetadata: {name: orders\nspec: [\n');
    await eventually(() => rig.logs.lines.find((l) => l.msg && String(l.msg).startsWith('session file not applied') && String(l.file).endsWith('shop.yaml')), 10_000, 'error log');
    const line = rig.logs.lines.find((l) => String(l.msg).startsWith('session file not applied'))!;
    expect(line.level).toBe(50);
    expect((line.problems as string[])[0]).toMatch(/^line \d+: /);
    const after = (await byName('search'))!;
    expect(after.status.phase).toBe(before.status.phase);
    expect(after.status.conditions.some((c) => c.reason === 'Deleted')).toBe(false);
  });

  it('removes the sessions of a removed document (results stay), and ignores a name the API owns', async () => {
    save(join(dir, 'shop.yaml'), doc('orders', 'GET /api/orders/:id', 20));
    const search = await eventually(async () => {
      const s = await byName('search');
      return s?.status.conditions.some((c) => c.reason === 'Deleted') ? s : undefined;
    }, 10_000, 'search deleted');
    expect(search.status.phase).toBe('Completed');

    const res = await fetch(`${rig.op.url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'api-owned', spec: { request: 'GET /x' } }) });
    expect(res.status).toBe(201);
    save(join(dir, 'clash.yaml'), doc('api-owned', 'GET /other'));
    await eventually(() => rig.logs.lines.find((l) => String(l.msg).includes('already exists (created through the api)')), 10_000, 'clash log');
    const owned = (await sessions()).filter((s) => s.name === 'api-owned');
    expect(owned).toHaveLength(1);
    expect(owned[0]!.source).toBe('api');
    expect(owned[0]!.spec.request).toBe('GET /x');
  });
});

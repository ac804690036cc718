import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Rig, startRig } from './api-harness.js';

/** The composition root wires the store's health and the hub's pending sockets into /metrics. */
let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.close();
});

describe('/metrics of the limits', () => {
  it('shows whether the store can write, the writes it refused and the sockets waiting for hello', async () => {
    const text = await (await fetch(`${rig.op.url}/metrics`)).text();
    expect(text).toMatch(/^sonde_store_writable 1$/m);
    expect(text).toMatch(/^sonde_store_failed_writes_total 0$/m);
    expect(text).toMatch(/^sonde_agents_pending 0$/m);
    expect(text).toMatch(/^# TYPE sonde_store_writable gauge$/m);
  });
});

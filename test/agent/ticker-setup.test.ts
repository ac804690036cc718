import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { refusedSetup } from '../../agent/sampler/ticker-setup.js';

describe("the ticker's setup, as the agent logs it", () => {
  it('says nothing when the kernel granted both requests, or they did not apply', () => {
    expect(refusedSetup({ shortSlice: 0, exactWakeups: 0 })).toBeUndefined();
    expect(refusedSetup({ shortSlice: -1, exactWakeups: 0 })).toBeUndefined();
  });

  it('names each refusal by its errno and the default sampling falls back to', () => {
    const r = refusedSetup({ shortSlice: constants.errno.EPERM, exactWakeups: 0 });
    expect(r?.refused).toEqual({ shortSlice: 'EPERM' });
    expect(r?.fallback).toHaveLength(1);
    expect(r?.fallback[0]).toMatch(/default slice/);
    expect(refusedSetup({ shortSlice: constants.errno.ENOSYS, exactWakeups: constants.errno.EACCES })?.refused).toEqual({ shortSlice: 'ENOSYS', exactWakeups: 'EACCES' });
  });

  it('keeps an errno it cannot name as its number', () => {
    expect(refusedSetup({ shortSlice: 0, exactWakeups: 4000 })?.refused).toEqual({ exactWakeups: 'errno 4000' });
  });
});

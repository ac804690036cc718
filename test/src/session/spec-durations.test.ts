import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../../src/session/validate.js';

/** Spec durations: the units the docs promise (ms, s, m, h), and bounds said in the unit the user wrote. */
const problemsOf = (spec: Record<string, unknown>): string[] => {
  const r = resolveSpec({ request: 'GET /', ...spec });
  return r.ok ? [] : r.problems.map((p) => `${p.field}: ${p.message}`);
};

describe('spec durations', () => {
  it('refuses ns, us and µs, even where the value would be in range', () => {
    for (const v of ['1us', '1500us', '2000µs', '1000000ns', '1ms500us']) {
      expect(problemsOf({ sampleInterval: v })).toEqual([`spec.sampleInterval: sampleInterval must be a duration in ms, s, m or h (e.g. "90s", "5m", "1m30s"), got ${JSON.stringify(v)}`]);
    }
    expect(problemsOf({ sampleInterval: '2.5ms', duration: '1m30s' })).toEqual([]);
  });

  it('says the bounds in the unit the user wrote where they are whole, else in the shortest form', () => {
    expect(problemsOf({ duration: '1000h' })).toEqual(['spec.duration: duration must be between 1s and 1h, got 1000h']);
    expect(problemsOf({ duration: '61m' })).toEqual(['spec.duration: duration must be between 1s and 60m, got 61m']);
    expect(problemsOf({ duration: '500ms' })).toEqual(['spec.duration: duration must be between 1000ms and 3600000ms, got 500ms']);
    expect(problemsOf({ sampleInterval: '2s' })).toEqual(['spec.sampleInterval: sampleInterval must be between 1ms and 1s, got 2s']);
  });
});

import { describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/session/types.js';
import { samplingText } from '../../ui/components/session-header.js';

const view = (asked: string, used?: string): Pick<SessionView, 'spec' | 'status'> =>
  ({
    spec: { selector: {}, request: 'GET /a', requests: 10, duration: '5m', sampleInterval: asked },
    status: { phase: 'Completed', conditions: [], requestsProfiled: 10, progress: '10/10', pods: [], hotspots: [], ...(used ? { sampleInterval: used } : {}) },
  }) as Pick<SessionView, 'spec' | 'status'>;

describe("the session header's sampling line", () => {
  it('says the interval the samples were taken at, and the one asked when they differ', () => {
    expect(samplingText(view('2ms', '10ms'))).toBe('every 10ms (asked 2ms), up to 5m');
    expect(samplingText(view('10ms', '10ms'))).toBe('every 10ms, up to 5m');
    expect(samplingText(view('0.01s', '10ms'))).toBe('every 0.01s, up to 5m');
    // Before any sample is stored, the asked one.
    expect(samplingText(view('10ms'))).toBe('every 10ms, up to 5m');
  });
});

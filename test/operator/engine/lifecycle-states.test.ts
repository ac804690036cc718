import { describe, expect, it } from 'vitest';
import { type PodPart, podTransition } from '../../../operator/engine/pod-part.js';
import { type Life, isOver, lifeTransition, phaseOf, takesAgents } from '../../../operator/engine/session-life.js';

/** One test per transition of the two state machines the engine is built on (docs/adr/0002). */
describe('a pod part in a session (pod-part.ts)', () => {
  const sampling: PodPart = { state: 'Sampling', conn: 'c1' };

  it('started: binds the connection and samples, from nothing, Lost or Failed', () => {
    expect(podTransition({ state: 'Pending', conn: undefined }, { type: 'started', conn: 'c1' })).toEqual({ state: 'Sampling', conn: 'c1' });
    expect(podTransition({ state: 'Lost', conn: undefined, message: 'gone' }, { type: 'started', conn: 'c2' })).toEqual({ state: 'Sampling', conn: 'c2' });
    expect(podTransition({ state: 'Failed', conn: 'c1', message: 'x' }, { type: 'started', conn: 'c2' })).toEqual({ state: 'Sampling', conn: 'c2' });
  });

  it('adopted: a reconnect after the part ended binds the new connection; Lost becomes Done, Failed stays', () => {
    expect(podTransition({ state: 'Lost', conn: undefined }, { type: 'adopted', conn: 'c2' })).toMatchObject({ state: 'Done', conn: 'c2' });
    expect(podTransition({ state: 'Done', conn: undefined }, { type: 'adopted', conn: 'c2' })).toEqual({ state: 'Done', conn: 'c2' });
    expect(podTransition({ state: 'Failed', conn: undefined, message: 'x' }, { type: 'adopted', conn: 'c2' })).toEqual({ state: 'Failed', conn: 'c2', message: 'x' });
    const same = { state: 'Done', conn: 'c2' } as const;
    expect(podTransition(same, { type: 'adopted', conn: 'c2' })).toBe(same);
  });

  it('disconnected: only the bound connection counts; a sampling pod is Lost and unbound', () => {
    expect(podTransition(sampling, { type: 'disconnected', conn: 'c1' })).toMatchObject({ state: 'Lost', conn: undefined });
    expect(podTransition(sampling, { type: 'disconnected', conn: 'other' })).toBe(sampling);
    expect(podTransition({ state: 'Done', conn: 'c1' }, { type: 'disconnected', conn: 'c1' })).toEqual({ state: 'Done', conn: undefined });
  });

  it('ended: from the bound connection only; Done, or Failed with the error; a Lost pod that comes back and ends is Done', () => {
    expect(podTransition(sampling, { type: 'ended', conn: 'c1' })).toEqual({ state: 'Done', conn: 'c1' });
    expect(podTransition(sampling, { type: 'ended', conn: 'c1', error: 'no sampler' })).toEqual({ state: 'Failed', conn: 'c1', message: 'no sampler' });
    expect(podTransition(sampling, { type: 'ended', conn: 'intruder' })).toBe(sampling);
    expect(podTransition({ state: 'Lost', conn: 'c2' }, { type: 'ended', conn: 'c2' })).toEqual({ state: 'Done', conn: 'c2' });
  });

  it('sessionEnded: a sampling pod is Done and stays bound (its late records still come); Lost stays Lost', () => {
    expect(podTransition(sampling, { type: 'sessionEnded' })).toEqual({ state: 'Done', conn: 'c1' });
    const lost: PodPart = { state: 'Lost', conn: undefined };
    expect(podTransition(lost, { type: 'sessionEnded' })).toBe(lost);
  });

  it('operatorRestarted: no connection survives; a sampling pod waits as Lost', () => {
    expect(podTransition(sampling, { type: 'operatorRestarted' })).toMatchObject({ state: 'Lost', conn: undefined, message: expect.stringMatching(/restarted/) });
    expect(podTransition({ state: 'Done', conn: 'c1' }, { type: 'operatorRestarted' })).toEqual({ state: 'Done', conn: undefined });
  });
});

describe('a session lifecycle (session-life.ts)', () => {
  const all: Life[] = ['Invalid', 'Pending', 'Running', 'Stopping', 'Completed', 'Failed'];
  const table = (event: Parameters<typeof lifeTransition>[1]) => Object.fromEntries(all.map((l) => [l, lifeTransition(l, event)]));

  it('specAccepted / specInvalid: only before sampling started', () => {
    expect(table({ type: 'specAccepted' })).toEqual({ Invalid: 'Pending', Pending: 'Pending', Running: 'Running', Stopping: 'Stopping', Completed: 'Completed', Failed: 'Failed' });
    expect(table({ type: 'specInvalid' })).toEqual({ Invalid: 'Invalid', Pending: 'Invalid', Running: 'Running', Stopping: 'Stopping', Completed: 'Completed', Failed: 'Failed' });
  });

  it('agentStarted: Pending to Running', () => {
    expect(table({ type: 'agentStarted' })).toEqual({ Invalid: 'Invalid', Pending: 'Running', Running: 'Running', Stopping: 'Stopping', Completed: 'Completed', Failed: 'Failed' });
  });

  it('tookN: Running to Stopping (shown as Running)', () => {
    expect(table({ type: 'tookN' })).toEqual({ Invalid: 'Invalid', Pending: 'Pending', Running: 'Stopping', Stopping: 'Stopping', Completed: 'Completed', Failed: 'Failed' });
    expect(phaseOf('Stopping')).toBe('Running');
  });

  it('ended: any live state to its end; an ended session never changes again', () => {
    expect(table({ type: 'ended', phase: 'Completed' })).toEqual({ Invalid: 'Invalid', Pending: 'Completed', Running: 'Completed', Stopping: 'Completed', Completed: 'Completed', Failed: 'Failed' });
    expect(lifeTransition('Completed', { type: 'ended', phase: 'Failed' })).toBe('Completed');
    expect(phaseOf('Invalid')).toBe('Failed');
  });

  it('who joins and who is over', () => {
    expect(all.filter(takesAgents)).toEqual(['Pending', 'Running']);
    expect(all.filter(isOver)).toEqual(['Invalid', 'Completed', 'Failed']);
  });
});

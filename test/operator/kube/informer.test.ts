import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../operator/clock.js';
import { KubeInformer } from '../../../operator/kube/informer.js';
import { listPods, podsPath } from '../../../operator/kube/resources.js';
import { fakeKubeConfig, FakeKubeApiServer, PODS } from '../../fake-kube/index.js';
import { testLog, tick, until } from './harness.js';

describe('KubeInformer against the fake API server', () => {
  let fake: FakeKubeApiServer;
  const informers: KubeInformer<V1Pod>[] = [];

  beforeEach(async () => {
    fake = await FakeKubeApiServer.start({ bookmarkIntervalMs: 100 });
  });
  afterEach(async () => {
    await Promise.all(informers.splice(0).map((i) => i.stop()));
    await fake.stop();
  });

  const podInformer = (namespace?: string, extra: Partial<ConstructorParameters<typeof KubeInformer<V1Pod>>[0]> = {}) => {
    const kc = fakeKubeConfig(fake);
    const inf = new KubeInformer<V1Pod>({ name: 'pods', kubeConfig: kc, path: podsPath(namespace), list: listPods(kc, namespace), log: testLog(), backoff: { initialMs: 20, maxMs: 200 }, ...extra });
    informers.push(inf);
    const seen: string[] = [];
    inf.on('add', (p) => seen.push(`add ${p.metadata!.name}`));
    inf.on('update', (p) => seen.push(`update ${p.metadata!.name} ${JSON.stringify(p.metadata!.labels)}`));
    inf.on('delete', (p) => seen.push(`delete ${p.metadata!.name}`));
    return { inf, seen };
  };
  const relabel = (ns: string, name: string, labels: Record<string, string>) => {
    const pod = fake.store.get(PODS, ns, name)!;
    fake.store.update(PODS, ns, name, { ...pod, metadata: { ...pod.metadata, labels } });
  };
  const names = (inf: KubeInformer<V1Pod>) => inf.list().map((p) => p.metadata!.name).sort();

  it('lists, syncs, then follows adds, updates and deletes', async () => {
    fake.addPod({ name: 'a', labels: { v: '1' } });
    const { inf, seen } = podInformer();
    inf.start();
    await inf.synced;
    expect(inf.hasSynced()).toBe(true);
    expect(names(inf)).toEqual(['a']);
    await until(() => fake.watchCount('pods') === 1, 'watch');
    fake.addPod({ name: 'b' });
    relabel('default', 'a', { v: '2' });
    fake.store.delete(PODS, 'default', 'b');
    await until(() => seen.length === 4, 'four events');
    expect(seen).toEqual(['add a', 'add b', 'update a {"v":"2"}', 'delete b']);
    expect(inf.get('default', 'a')?.metadata?.labels).toEqual({ v: '2' });
    // The watch asked for bookmarks and resumed from the list's resourceVersion.
    const watch = fake.requests.find((r) => r.watch)!;
    expect(watch.query.allowWatchBookmarks).toBe('true');
    expect(watch.query.resourceVersion).toBe(String(Number(fake.store.resourceVersion) - 3));
  });

  it('a broken watch resumes from the last resourceVersion without losing or repeating events', async () => {
    const { inf, seen } = podInformer();
    inf.start();
    await inf.synced;
    for (let round = 0; round < 5; round++) {
      await until(() => fake.watchCount('pods') === 1, 'watch');
      fake.addPod({ name: `p${round}` });
      await until(() => inf.get('default', `p${round}`) !== undefined, `p${round}`);
      fake.breakWatches();
      // Changes while nobody watches: the resumed watch must replay them from history.
      fake.addPod({ name: `q${round}` });
      relabel('default', `p${round}`, { round: String(round) });
    }
    await until(() => inf.list().length === 10 && inf.get('default', 'p4')?.metadata?.labels?.round === '4', 'all changes');
    expect(seen.filter((s) => s.startsWith('add')).length).toBe(10);
    expect(new Set(seen).size).toBe(seen.length); // nothing delivered twice
    expect(inf.stats.lists).toBe(1); // resumed, never relisted
    const watches = fake.requests.filter((r) => r.watch);
    expect(watches.length).toBeGreaterThanOrEqual(6);
    expect(watches.every((w) => w.query.resourceVersion)).toBe(true);
  });

  it('an ERROR 410 Expired event on resume triggers a relist that emits exactly the missed differences', async () => {
    fake.addPod({ name: 'keep' });
    fake.addPod({ name: 'gone' });
    const { inf, seen } = podInformer();
    inf.start();
    await inf.synced;
    await until(() => fake.watchCount('pods') === 1, 'watch');
    seen.length = 0;
    // Stop the server answering watches for a moment so the gap cannot be replayed: fail the next
    // watch, then compact the history while the informer waits to retry.
    fake.failNext({ method: 'GET', path: /\/pods$/, code: 500 });
    fake.breakWatches();
    fake.store.delete(PODS, 'default', 'gone');
    fake.addPod({ name: 'new' });
    relabel('default', 'keep', { after: 'compaction' });
    fake.compact();
    await until(() => inf.stats.gone === 1 && inf.stats.lists === 2, 'a relist after 410');
    await until(() => seen.length === 3, 'the differences');
    expect(seen.sort()).toEqual(['add new', 'delete gone', 'update keep {"after":"compaction"}']);
    expect(names(inf)).toEqual(['keep', 'new']);
    // And it watches again from the relist's resourceVersion.
    await until(() => fake.watchCount('pods') === 1, 'watch again');
    fake.addPod({ name: 'later' });
    await until(() => inf.get('default', 'later') !== undefined, 'later');
  });

  it('an HTTP 410 answer to the watch request relists too', async () => {
    const { inf } = podInformer();
    inf.start();
    await inf.synced;
    await until(() => fake.watchCount('pods') === 1, 'watch');
    fake.failNext({ method: 'GET', path: '/api/v1/pods', code: 410, reason: 'Gone' });
    fake.breakWatches();
    fake.addPod({ name: 'y' });
    await until(() => inf.stats.gone === 1 && inf.stats.lists === 2, 'a relist after HTTP 410');
    await until(() => inf.get('default', 'y') !== undefined, 'y');
  });

  it('restarts with capped backoff on the injected clock when the API server fails', async () => {
    const clock = new ManualClock();
    const { inf } = podInformer(undefined, { clock, backoff: { initialMs: 1000, maxMs: 4000, jitter: 0 } });
    fake.failNext({ method: 'GET', path: '/api/v1/pods', code: 503, times: 4 });
    inf.start();
    const lists = (): number => fake.requests.filter((r) => r.path === '/api/v1/pods' && !r.watch).length;
    /** Advances the clock; the list count must then stay at `count` (checked after a pause) or reach it. */
    const advance = async (ms: number, count: number): Promise<void> => {
      clock.advance(ms);
      if (count === lists()) {
        await tick(30);
        expect(lists()).toBe(count);
      } else {
        await until(() => lists() === count, `list #${count}`);
      }
    };
    // Each step waits for the retry to be scheduled first: the request reaching the server is not the
    // failure reaching the informer, and advancing the clock before would move the retry's due time.
    const scheduled = () => until(() => clock.pending === 1, 'retry scheduled');
    await until(() => lists() === 1, 'first list');
    await scheduled();
    await advance(999, 1); // 1 s after the 1st failure
    await advance(1, 2);
    await scheduled();
    await advance(1999, 2); // 2 s after the 2nd
    await advance(1, 3);
    await scheduled();
    await advance(3999, 3); // 4 s after the 3rd
    await advance(1, 4);
    await scheduled();
    await advance(3999, 4); // capped at 4 s, not 8
    await advance(1, 5);
    await inf.synced;
    expect(inf.stats.errors).toBe(4);
  });

  it('namespace-limited: lists and watches one namespace only', async () => {
    fake.addPod({ name: 'mine', namespace: 'team-a' });
    fake.addPod({ name: 'theirs', namespace: 'team-b' });
    const { inf } = podInformer('team-a');
    inf.start();
    await inf.synced;
    await until(() => fake.watchCount('pods') === 1, 'watch');
    fake.addPod({ name: 'mine-2', namespace: 'team-a' });
    fake.addPod({ name: 'theirs-2', namespace: 'team-b' });
    await until(() => inf.list().length === 2, 'team-a pods');
    await tick(50);
    expect(names(inf)).toEqual(['mine', 'mine-2']);
    expect(fake.requests.every((r) => r.path === '/api/v1/namespaces/team-a/pods')).toBe(true);
  });
});

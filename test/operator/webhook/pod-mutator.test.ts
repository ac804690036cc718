import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { mutatePod, type Decision, type InjectionSettings } from '../../../operator/webhook/pod-mutator.js';
import { fixture } from './webhook-harness.js';

/**
 * The pure mutator's rules that the HTTPS tests do not reach: what wins when the app already defines a
 * variable, what makes a pod skip, and that every patch applies cleanly to the pod it was made for.
 */

const settings: InjectionSettings = {
  version: '0.1.0',
  agentImage: 'ghcr.io/example/sonde:0.1.0',
  agentUrl: 'wss://sonde.sonde-system.svc:7070/v1/agents',
  caCert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  skipNamespaces: ['sonde-system', 'kube-system'],
};

const podOf = (name = 'bare-pod') => fixture(name).request.object;
function apply(pod: any, d: Decision): any {
  if (d.kind === 'ignored') return pod;
  return fastJsonPatch.applyPatch(structuredClone(pod), d.patch as any, true, false).newDocument;
}
const env = (pod: any, i = 0): Record<string, any> => Object.fromEntries((pod.spec.containers[i].env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));

describe('mutatePod', () => {
  it("keeps the app's own SONDE_URL, SONDE_TOKEN_FILE and SONDE_CA_CERT (a deliberate override wins)", () => {
    const pod = podOf();
    pod.spec.containers[0].env = [{ name: 'SONDE_URL', value: 'wss://other.example:7070/v1/agents' }, { name: 'SONDE_CA_CERT', value: 'mine' }];
    const d = mutatePod(pod, 'shop', settings);
    expect(d.kind).toBe('injected');
    const e = env(apply(pod, d));
    expect(e.SONDE_URL).toBe('wss://other.example:7070/v1/agents');
    expect(e.SONDE_CA_CERT).toBe('mine');
    expect(e.SONDE_TOKEN_FILE).toBe('/var/run/secrets/sonde/token');
    expect(apply(pod, d).spec.containers[0].env.filter((x: any) => x.name === 'SONDE_URL')).toHaveLength(1);
  });

  it('accepts POD_NAME already from the Downward API, and skips a pod whose POD_NAME means something else', () => {
    const same = podOf();
    same.spec.containers[0].env = [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }];
    const d = mutatePod(same, 'shop', settings);
    expect(d.kind).toBe('injected');
    expect(apply(same, d).spec.containers[0].env.filter((x: any) => x.name === 'POD_NAME')).toHaveLength(1);

    const other = podOf();
    other.spec.containers[0].env = [{ name: 'POD_NAME', value: 'web' }];
    const s = mutatePod(other, 'shop', settings);
    expect(s.kind).toBe('skipped');
    expect(s.kind === 'skipped' && s.reason).toBe('container scratch defines POD_NAME otherwise than the Downward API metadata.name');
  });

  it('skips a container with envFrom and no NODE_OPTIONS of its own, and injects once NODE_OPTIONS is set, even empty', () => {
    const pod = podOf();
    pod.spec.containers[0].envFrom = [{ configMapRef: { name: 'settings' } }];
    const d = mutatePod(pod, 'shop', settings);
    expect(d.kind === 'skipped' && d.reason).toMatch(/envFrom, which may define NODE_OPTIONS/);
    pod.spec.containers[0].env = [{ name: 'NODE_OPTIONS', value: '' }];
    const again = mutatePod(pod, 'shop', settings);
    expect(again.kind).toBe('injected');
    expect(env(apply(pod, again)).NODE_OPTIONS).toBe('--require /sonde/agent/preload.cjs');
  });

  it('the last definition of a variable is the one changed (Kubernetes takes the last)', () => {
    const pod = podOf();
    pod.spec.containers[0].env = [{ name: 'NODE_OPTIONS', value: '--a' }, { name: 'X', value: '1' }, { name: 'NODE_OPTIONS', value: '--b' }];
    const out = apply(pod, mutatePod(pod, 'shop', settings));
    expect(out.spec.containers[0].env.slice(0, 3)).toEqual([{ name: 'NODE_OPTIONS', value: '--a' }, { name: 'X', value: '1' }, { name: 'NODE_OPTIONS', value: '--b --require /sonde/agent/preload.cjs' }]);
  });

  it('python: PYTHONPATH from valueFrom skips; an empty PYTHONPATH becomes the agent directory alone', () => {
    const pod = podOf('python-pod');
    pod.spec.containers[0].env[0] = { name: 'PYTHONPATH', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } };
    expect(mutatePod(pod, 'shop', settings)).toMatchObject({ kind: 'skipped', reason: expect.stringMatching(/PYTHONPATH of container orders comes from valueFrom/) });
    pod.spec.containers[0].env[0] = { name: 'PYTHONPATH', value: '' };
    expect(env(apply(pod, mutatePod(pod, 'shop', settings))).PYTHONPATH).toBe('/sonde/agent/python');
  });

  it('skips without an agent image, and on a clash with our volume or mount paths', () => {
    const { agentImage: _drop, ...noImage } = settings;
    expect(mutatePod(podOf(), 'shop', noImage)).toMatchObject({ kind: 'skipped', reason: 'the operator has no agent image (--agent-image)' });
    const vol = podOf();
    vol.spec.volumes = [{ name: 'sonde-token', emptyDir: {} }];
    expect(mutatePod(vol, 'shop', settings)).toMatchObject({ kind: 'skipped', reason: 'the pod already has a volume named sonde-token' });
    const mount = podOf();
    mount.spec.containers[0].volumeMounts = [{ name: 'data', mountPath: '/sonde/agent' }];
    expect(mutatePod(mount, 'shop', settings)).toMatchObject({ kind: 'skipped', reason: 'container scratch already mounts something at /sonde/agent' });
  });

  it('a pod skipped earlier and fixed since (reinvocation after another webhook) is injected and loses the skip note', () => {
    const pod = podOf();
    pod.metadata.annotations['sonde.dev/injection-skipped'] = 'the operator has no agent image (--agent-image)';
    const out = apply(pod, mutatePod(pod, 'shop', settings));
    expect(out.metadata.annotations['sonde.dev/injection-skipped']).toBeUndefined();
    expect(out.metadata.annotations['sonde.dev/injected']).toBe('0.1.0');
  });

  it('the patch fails rather than touching the wrong container if containers were reordered after the review', () => {
    const pod = podOf('several-containers');
    const d = mutatePod(pod, 'shop', settings);
    const reordered = structuredClone(pod);
    reordered.spec.containers.push(reordered.spec.containers.shift());
    expect(() => apply(reordered, d)).toThrow(/Test operation failed/);
  });

  it('annotation keys with "/" are escaped as JSON pointers (RFC 6901)', () => {
    const pod = podOf();
    const d = mutatePod(pod, 'shop', settings);
    expect(d.kind === 'injected' && d.patch.some((op) => op.path === '/metadata/annotations/sonde.dev~1injected')).toBe(true);
  });

  it('a pod with no labels gets a labels map', () => {
    const pod = podOf();
    delete pod.metadata.labels;
    expect(apply(pod, mutatePod(pod, 'shop', settings)).metadata.labels).toEqual({ 'sonde.dev/agent': 'node' });
  });
});

describe('mutatePod on lists and values that are there but empty', () => {
  it('a NODE_OPTIONS entry with no value gets one', () => {
    const pod = podOf();
    pod.spec.containers[0].env = [{ name: 'NODE_OPTIONS' }];
    expect(env(apply(pod, mutatePod(pod, 'shop', settings))).NODE_OPTIONS).toBe('--require /sonde/agent/preload.cjs');
  });

  it('null lists (as some clients send) are created whole', () => {
    const pod = podOf();
    pod.spec.volumes = null;
    pod.spec.initContainers = null;
    pod.spec.containers[0].env = null;
    pod.spec.containers[0].volumeMounts = null;
    const out = apply(pod, mutatePod(pod, 'shop', settings));
    expect(out.spec.volumes.map((v: any) => v.name)).toEqual(['sonde-agent', 'sonde-token']);
    expect(out.spec.initContainers.map((c: any) => c.name)).toEqual(['sonde-agent']);
    expect(env(out).SONDE_TOKEN_FILE).toBe('/var/run/secrets/sonde/token');
  });

  it('lists that are not lists skip rather than being overwritten', () => {
    const pod = podOf();
    pod.spec.volumes = { name: 'x' };
    expect(mutatePod(pod, 'shop', settings)).toMatchObject({ kind: 'skipped', reason: "the pod's volumes is not a list" });
  });
});

import { OPENAPI_SCHEMA } from '../../operator/crd/schema.js';
import { checkAgainstSchema } from '../../operator/crd/structural-check.js';
import type { ResourceType } from './store.js';

const core = (plural: string, kind: string, namespaced: boolean): ResourceType => ({
  group: '',
  version: 'v1',
  plural,
  kind,
  namespaced,
  statusSubresource: false,
  dropStatusOnCreate: false,
  tracksGeneration: false,
});

/** Pods keep whatever status a test gives them (there is no kubelet to write it). */
export const PODS = core('pods', 'Pod', true);
export const NAMESPACES = core('namespaces', 'Namespace', false);
export const EVENTS = core('events', 'Event', true);

/** ProfilingSessions with the generated CRD's schema as admission: the fake refuses what a real server would. */
export const PROFILING_SESSIONS: ResourceType = {
  group: 'sonde.dev',
  version: 'v1alpha1',
  plural: 'profilingsessions',
  kind: 'ProfilingSession',
  namespaced: true,
  statusSubresource: true,
  dropStatusOnCreate: true,
  tracksGeneration: true,
  admit: (obj) => checkAgainstSchema(OPENAPI_SCHEMA, obj),
};

/** Stored only (so a CRD can be applied the same way against the fake and a real cluster). */
export const CRDS: ResourceType = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  namespaced: false,
  statusSubresource: true,
  dropStatusOnCreate: true,
  tracksGeneration: true,
};

/** Secrets (the operator's TLS Secret): stored as given, `data` values base64 as on a real server. */
export const SECRETS = core('secrets', 'Secret', true);

/** The webhook configuration the operator patches (caBundle) or registers (`--webhook-url`). */
export const MUTATING_WEBHOOK_CONFIGURATIONS: ResourceType = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural: 'mutatingwebhookconfigurations',
  kind: 'MutatingWebhookConfiguration',
  namespaced: false,
  statusSubresource: false,
  dropStatusOnCreate: false,
  tracksGeneration: true,
};

/** The resource types the fake serves out of the box. */
export const DEFAULT_RESOURCES: ResourceType[] = [PODS, NAMESPACES, EVENTS, PROFILING_SESSIONS, CRDS, SECRETS, MUTATING_WEBHOOK_CONFIGURATIONS];

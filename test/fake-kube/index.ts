/** A fake kube-apiserver for tests: see README.md. */
export { FakeKubeApiServer, type FakeKubeOptions, type Fault, type RecordedRequest } from './server.js';
export { fakeKubeConfig, kubeconfigYaml, writeKubeconfig } from './kubeconfig.js';
export { API_AUDIENCE, TokenBook, type PodRef, type TokenIdentity } from './token-reviews.js';
export { AccessPolicy } from './access-policy.js';
export { ObjectStore, ApiError, type KubeObject, type ResourceType, type StoredEvent } from './store.js';
export { CRDS, DEFAULT_RESOURCES, EVENTS, MUTATING_WEBHOOK_CONFIGURATIONS, NAMESPACES, PODS, PROFILING_SESSIONS, SECRETS } from './resources.js';
export { parseFieldSelector, parseLabelSelector } from './selectors.js';
export { jsonPatch, mergePatch, PatchError } from './patch.js';
export { apiCallOf, describeCall, type ApiCall } from './api-calls.js';

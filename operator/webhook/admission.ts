import { mutatePod, type Decision, type InjectionSettings } from './pod-mutator.js';

/**
 * An `admission.k8s.io/v1` AdmissionReview in, its response out: a pure function around `mutatePod`.
 * Whatever arrives, the answer allows the pod (Sonde must never stop one from starting); what could not
 * be understood is said in `status.message` and nothing is patched.
 */

/** The response half of an AdmissionReview, as the API server reads it. */
export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  /** Base64 of the JSON Patch. */
  patch?: string;
  status?: { message: string };
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** The review's answer and what was decided (for the log); `decision` is absent when the review was malformed. */
export interface ReviewOutcome {
  review: AdmissionReviewResponse;
  decision?: Decision;
  /** Why the review could not be read, when it could not. */
  error?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A Kubernetes UID: the API server's are UUIDs; anything longer or stranger is not echoed back. */
const UID = /^[A-Za-z0-9-]{1,64}$/;

function answer(uid: string, extra: Partial<AdmissionResponse> = {}): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true, ...extra } };
}

/** The answer to a body that is not JSON at all: allowed, nothing patched, and why. */
export function notJson(): ReviewOutcome {
  return { review: answer('', { status: { message: 'sonde: malformed AdmissionReview: the body is not JSON' } }), error: 'the body is not JSON' };
}

/** Answers one AdmissionReview (already parsed from JSON). Never throws. */
export function review(body: unknown, settings: InjectionSettings): ReviewOutcome {
  const malformed = (error: string, uid = ''): ReviewOutcome => ({ review: answer(uid, { status: { message: `sonde: malformed AdmissionReview: ${error}` } }), error });
  if (!isObject(body)) return malformed('the body is not a JSON object');
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') return malformed(`expected apiVersion admission.k8s.io/v1, kind AdmissionReview; got ${JSON.stringify(String(body.apiVersion)).slice(0, 60)}, ${JSON.stringify(String(body.kind)).slice(0, 40)}`);
  const request = body.request;
  if (!isObject(request)) return malformed('no request');
  const uid = typeof request.uid === 'string' && UID.test(request.uid) ? request.uid : undefined;
  if (!uid) return malformed('request.uid is missing or not a UID');
  const kind = isObject(request.kind) ? request.kind : {};
  if (kind.group !== '' || kind.kind !== 'Pod') return malformed(`this webhook mutates core/v1 Pods, got ${JSON.stringify(`${String(kind.group)}/${String(kind.kind)}`).slice(0, 80)}`, uid);
  if (request.operation !== 'CREATE') return { review: answer(uid), decision: { kind: 'ignored', why: `operation ${String(request.operation).slice(0, 20)} (only CREATE is mutated)` } };
  const namespace = typeof request.namespace === 'string' ? request.namespace : '';
  if (!namespace) return malformed('request.namespace is missing', uid);
  // A dry run gets the same patch: the webhook has no side effects (sideEffects: None).
  let decision: Decision;
  try {
    decision = mutatePod(request.object, namespace, settings);
  } catch (err) {
    // mutatePod validates as it reads; this is the last line, so a surprise still allows the pod.
    return malformed(`the pod could not be read (${(err as Error).message})`, uid);
  }
  if (decision.kind === 'ignored') return { review: answer(uid), decision };
  if (decision.patch.length === 0) return { review: answer(uid, decision.kind === 'skipped' ? { warnings: [`sonde: not injected: ${decision.reason}`] } : {}), decision };
  const patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
  return {
    review: answer(uid, { patchType: 'JSONPatch', patch, ...(decision.kind === 'skipped' ? { warnings: [`sonde: not injected: ${decision.reason}`] } : {}) }),
    decision,
  };
}

import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** Largest review answer read: a TokenReview or SubjectAccessReview is well under 16 KB. */
const MAX_ANSWER_BYTES = 256 * 1024;

/** A transport failure or a non-2xx answer: the review did not happen (as opposed to a refusal). */
export class KubePostError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'KubePostError';
  }
}

/**
 * POSTs one JSON object to the API server with the operator's credentials and returns the answer's JSON.
 * Written on node:http(s) rather than the generated client because a review must be bounded in time: the
 * socket is destroyed at `timeoutMs`, so a hung API server frees the review slot (ReviewGate) instead of
 * holding it, and the answer is bounded in size.
 */
export async function kubePost(kc: KubeConfig, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubePostError('no current cluster in the kubeconfig');
  const url = new URL(path, cluster.server.endsWith('/') ? cluster.server : `${cluster.server}/`);
  const payload = Buffer.from(JSON.stringify(body));
  const opts: RequestOptions & Record<string, unknown> = {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': String(payload.length) },
  };
  await kc.applyToHTTPSOptions(opts as never);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) return void req.destroy(new KubePostError(`the API server's answer to ${path} is larger than ${MAX_ANSWER_BYTES} bytes`));
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return reject(new KubePostError(`POST ${path}: HTTP ${status} ${text.slice(0, 200)}`, status));
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new KubePostError(`POST ${path}: the answer is not JSON`, status));
        }
      });
    });
    const timer = setTimeout(() => req.destroy(new KubePostError(`POST ${path}: no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    req.on('close', () => clearTimeout(timer));
    req.on('error', (err) => reject(err instanceof KubePostError ? err : new KubePostError(`POST ${path}: ${err.message}`)));
    req.end(payload);
  });
}

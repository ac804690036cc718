import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { expect } from 'vitest';

/** The recorded-style AdmissionReviews under test/fixtures/admission/. */
export function fixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'admission', `${name}.json`), 'utf8'));
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json?: any;
}

/** One HTTPS request that trusts only `ca`, with `servername` for SNI and name checks. */
export function httpsCall(opts: { port: number; ca: string; servername?: string; method?: string; path?: string; body?: string | Buffer; contentType?: string; headers?: Record<string, string> }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: opts.port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/mutate-v1-pod',
        ca: opts.ca,
        servername: opts.servername ?? 'localhost',
        headers: { ...(opts.contentType !== undefined ? { 'content-type': opts.contentType } : { 'content-type': 'application/json' }), ...(opts.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, ...(json !== undefined ? { json } : {}) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** Decodes a response's JSON Patch and applies it to the reviewed pod with fast-json-patch (validating). */
export function applyResponse(review: Record<string, any>, response: Record<string, any>): { pod: any; ops: Operation[] } {
  const pod = structuredClone(review.request.object);
  if (!response.patch) return { pod, ops: [] };
  expect(response.patchType).toBe('JSONPatch');
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
  const result = fastJsonPatch.applyPatch(pod, ops, true, false).newDocument;
  return { pod: result, ops };
}

/** The same review, asked again about an already-mutated pod (reinvocation, or a second webhook pass). */
export function reviewOf(review: Record<string, any>, pod: unknown, uid = 'f0e1d2c3-b4a5-4697-8a8b-9c0d1e2f3a4b'): Record<string, any> {
  const again = structuredClone(review);
  again.request.uid = uid;
  again.request.object = pod;
  return again;
}

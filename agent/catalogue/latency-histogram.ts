/**
 * Fixed log-scale latency buckets: four per doubling from 10 µs to beyond ten minutes. Recording is an
 * index computation and an increment (no allocation on the request path); a percentile read is
 * within one bucket's width (±9%) of the exact value, which is all a catalogue needs.
 */
const BASE_MS = 0.01;
const PER_DOUBLING = 4;
export const BUCKETS = 96;

/** The bucket a latency falls in. */
export function bucketOf(ms: number): number {
  if (!(ms > BASE_MS)) return 0;
  const i = Math.floor(Math.log2(ms / BASE_MS) * PER_DOUBLING);
  return i >= BUCKETS ? BUCKETS - 1 : i;
}

/** A representative latency of a bucket: its geometric middle. */
export function bucketValue(i: number): number {
  return BASE_MS * 2 ** ((i + 0.5) / PER_DOUBLING);
}

export function newBuckets(): Uint32Array {
  return new Uint32Array(BUCKETS);
}

/** The q-quantile (0 < q ≤ 1) over the sum of some bucket arrays; 0 when they are empty. */
export function quantile(q: number, ...parts: Uint32Array[]): number {
  let total = 0;
  for (const p of parts) for (let i = 0; i < BUCKETS; i++) total += p[i]!;
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    for (const p of parts) seen += p[i]!;
    if (seen >= rank) return bucketValue(i);
  }
  return bucketValue(BUCKETS - 1);
}

/**
 * The three weights every call-tree node carries. Samples are counts; times are microseconds.
 * `cpuUs` is 0 where the sampler cannot tell CPU from wall time.
 */
export interface Weights {
  samples: number;
  wallUs: number;
  cpuUs: number;
}

export const WEIGHT_NAMES = ['samples', 'wallUs', 'cpuUs'] as const;
export type WeightName = (typeof WEIGHT_NAMES)[number];

export function zeroWeights(): Weights {
  return { samples: 0, wallUs: 0, cpuUs: 0 };
}

export function checkWeights(w: Weights, what: string): void {
  for (const name of WEIGHT_NAMES) {
    const v = w[name];
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`${what}: ${name} must be a finite number >= 0, got ${v}`);
  }
}

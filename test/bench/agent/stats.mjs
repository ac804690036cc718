// Small helpers the agent benchmarks share.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The q-quantile of `xs` by the nearest-rank method (q = 0.5: the lower median). */
export const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};

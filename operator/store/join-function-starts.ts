import { joinKeysToStarts } from '../../src/model/by-function.js';

/** One function's weights summed over the selected sessions, as the hotspot query reads them (by stored key). */
export interface FunctionSums {
  fkey: string;
  /** The smallest line stored for it: its start where the key has one. */
  line: number;
  self_us: number;
  total_us: number;
  samples: number;
}

/** A function's row after the join: `fkey` is the key it is listed under, `keys` every stored key it sums. */
export interface JoinedSums extends FunctionSums {
  keys: string[];
}

/**
 * Joins, across sessions, a function stored without a start line (a session an agent recorded before
 * agents reported starts) to the same-named function of the same file whose start another selected
 * session knows, by the model's rule (by-function.ts `knownStarts`: the one that begins last at or
 * before its line; `joinKeysToStarts`). Within one tree byFunction has done that already; this does it across trees, so
 * one function is one row. Such a row's line is the smallest its session sampled in it (its lines were
 * merged when its weights were stored), so same-named functions that an older session saw are one
 * row there and join the first. Weights add: the rows come from different trees. Rows that cannot
 * join (other kinds, names with one key in their file) pass through untouched.
 */
export function joinFunctionStarts(rows: readonly FunctionSums[]): JoinedSums[] {
  const joins = joinKeysToStarts(
    rows.map((r) => r.fkey),
    rows.map((r) => r.line),
  );
  const out = new Map<string, JoinedSums>();
  rows.forEach((r, i) => {
    if (!joins.has(i)) out.set(r.fkey, copy(r));
  });
  for (const [i, into] of joins) {
    const r = rows[i]!;
    const target = out.get(into);
    // The start came from a row of this selection, so its function is here; a missing one would list the row alone.
    if (!target) {
      out.set(r.fkey, copy(r));
      continue;
    }
    target.self_us += r.self_us;
    target.total_us += r.total_us;
    target.samples += r.samples;
    target.line = Math.min(target.line, r.line);
    target.keys.push(r.fkey);
  }
  return [...out.values()];
}

/** A row with its one key, every field written out: one object shape for all rows keeps the sums fast. */
function copy(r: FunctionSums): JoinedSums {
  return { fkey: r.fkey, line: r.line, self_us: r.self_us, total_us: r.total_us, samples: r.samples, keys: [r.fkey] };
}

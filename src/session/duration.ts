/**
 * Go-style durations as Kubernetes users write them: `250ms`, `90s`, `5m`, `1h30m`, `1.5s`.
 * Units: ns, us (µs), ms, s, m, h. No sign, no bare numbers: `5` is ambiguous and refused.
 * A session spec allows only ms, s, m and h (resolveSpec and the CRD's pattern); this parser reads the rest.
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds in a duration string; throws a RangeError naming the input when it is not one. */
export function parseDuration(text: string): number {
  if (typeof text !== 'string' || text.length === 0) throw new RangeError(`duration must be a string like "5m", got ${JSON.stringify(text)}`);
  let ms = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) throw new RangeError(`"${text}" is not a duration (use units ms, s, m, h, e.g. "90s" or "5m")`);
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
  }
  return ms;
}

/** The shortest readable form of a duration in milliseconds: 300000 → `5m`, 1500 → `1.5s`. */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}

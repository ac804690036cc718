import { SPEC_LIMITS } from '../../src/session/validate.js';

const NUMBER = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Long hex: object ids (24), hashes (32, 40, 64). 16 keeps words like "deadbeefcafe" apart from ids. */
const LONG_HEX = /^[0-9a-f]{16,}$/i;

/**
 * A URL path as a request type route when no framework names the route: the query and fragment go,
 * and segments that are ids (numbers, UUIDs, long hex) become `:id`, so `/orders/42?x=1` and
 * `/orders/43` are one type, `/orders/:id`.
 */
export function normalisePath(url: string): string {
  let end = url.length;
  const q = url.indexOf('?');
  if (q >= 0) end = q;
  const h = url.indexOf('#');
  if (h >= 0 && h < end) end = h;
  let path = url.slice(0, end);
  // Absolute-form request targets (proxies): keep only the path.
  if (!path.startsWith('/')) {
    const scheme = path.indexOf('://');
    const slash = scheme >= 0 ? path.indexOf('/', scheme + 3) : -1;
    path = slash >= 0 ? path.slice(slash) : '/';
  }
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s !== '' && (NUMBER.test(s) || UUID.test(s) || LONG_HEX.test(s))) segments[i] = ':id';
  }
  const out = segments.join('/');
  // Leave room for the method in front: a type is at most SPEC_LIMITS.maxRequestLength long.
  return out.length > SPEC_LIMITS.maxRequestLength - 16 ? out.slice(0, SPEC_LIMITS.maxRequestLength - 16) : out;
}

/**
 * Remembers normalised paths: the same few URLs come again and again, and a Map lookup is cheaper than
 * the regular expressions. Bounded, because URLs with unbounded variety (ids in the query) must not
 * grow memory.
 */
export class PathCache {
  private readonly map = new Map<string, string>();
  constructor(private readonly max = 5000) {}

  get(url: string): string {
    // Keyed without the query: `?page=7` must not make every request a new entry.
    const q = url.indexOf('?');
    const key = q >= 0 ? url.slice(0, q) : url;
    let v = this.map.get(key);
    if (v === undefined) {
      v = normalisePath(key);
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(key, v);
    }
    return v;
  }
}

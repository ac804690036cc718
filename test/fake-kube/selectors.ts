/**
 * Label and field selectors in their query-string form (`app=web,tier in (a,b),!canary`), as the API
 * server parses them for list and watch. Returns a predicate; throws a RangeError on bad syntax so the
 * server can answer 400 as a real one would.
 */
export type Predicate = (obj: Record<string, any>) => boolean;

/** Splits on commas that are not inside parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** `labelSelector=` → predicate over an object's metadata.labels. */
export function parseLabelSelector(text: string | null | undefined): Predicate {
  if (!text) return () => true;
  const tests: ((labels: Record<string, string>) => boolean)[] = [];
  for (const part of splitTop(text)) {
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part))) {
      const [, key, op, list] = m;
      const values = list!.split(',').map((v) => v.trim()).filter(Boolean);
      tests.push(op === 'in' ? (l) => key! in l && values.includes(l[key!]!) : (l) => !(key! in l) || !values.includes(l[key!]!));
    } else if ((m = /^([^\s!=,()]+)\s*(==|=|!=)\s*([^\s!=,()]*)$/.exec(part))) {
      const [, key, op, value] = m;
      tests.push(op === '!=' ? (l) => l[key!] !== value : (l) => l[key!] === value);
    } else if ((m = /^!\s*([^\s!=,()]+)$/.exec(part))) {
      const key = m[1]!;
      tests.push((l) => !(key in l));
    } else if ((m = /^([^\s!=,()]+)$/.exec(part))) {
      const key = m[1]!;
      tests.push((l) => key in l);
    } else {
      throw new RangeError(`unable to parse requirement: ${JSON.stringify(part)}`);
    }
  }
  return (obj) => {
    const labels = (obj.metadata?.labels ?? {}) as Record<string, string>;
    return tests.every((t) => t(labels));
  };
}

/** `fieldSelector=` → predicate over dotted paths (`metadata.name=x,status.phase!=Failed`). */
export function parseFieldSelector(text: string | null | undefined): Predicate {
  if (!text) return () => true;
  const tests: Predicate[] = [];
  for (const part of splitTop(text)) {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new RangeError(`invalid field selector: ${JSON.stringify(part)}`);
    const [, path, op, value] = m;
    const get = (obj: Record<string, any>): string => {
      let v: any = obj;
      for (const p of path!.split('.')) v = v?.[p];
      return v === undefined || v === null ? '' : String(v);
    };
    tests.push(op === '!=' ? (o) => get(o) !== value : (o) => get(o) === value);
  }
  return (obj) => tests.every((t) => t(obj));
}

import { readFileSync, statSync } from 'node:fs';
import type { SessionView } from '../../src/session/types.js';
import { parseSessionDocuments } from '../standalone/session-documents.js';
import type { ApiClient } from './api-client.js';
import { checkNamespace, isSessionName, parseFlags, sessionRef } from './cli-args.js';
import { ApiError, EXIT, reportError, UsageError } from './cli-errors.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from './connection.js';
import { type CliIO, PROCESS_IO, runRest } from './rest-command.js';
import { formatSession, formatSessionList } from './session-format.js';
import { waitForEnd } from './wait-session.js';

/** `sonde sessions --help`. */
export const SESSIONS_HELP = `sonde sessions — list, show, start and stop profiling sessions through a running operator's REST API

Usage:
  sonde sessions [list] [--namespace NS] [--phase PHASE] [--json]
  sonde sessions show SESSION [--namespace NS] [--top N] [--json]
  sonde sessions start NAME --request TYPE [--selector k=v,...] [--requests N] [--duration D]
                       [--sample-interval I] [--max-per-pod N] [--namespace NS] [--json]
  sonde sessions start -f FILE [--json]         every ProfilingSession in a YAML file (kubectl's form)
  sonde sessions start ... --wait               then follow it to its end and show it (hotspots)
  sonde sessions stop SESSION [--namespace NS] [--purge] [--json]

SESSION is a session id, NAMESPACE/NAME, or NAME in --namespace (default "default").
start and stop work against a standalone operator (sonde operator --standalone, sonde demo); in a
cluster, sessions are ProfilingSession objects: kubectl apply -f / kubectl delete profilingsession.

  list     the sessions, newest first: phase, progress (profiled/asked), request type, age, id
  show     one session: spec, phase, progress per pod, conditions and the top hotspots by self time
  start    creates a session; omitted spec fields take the operator's defaults (100 requests, 5m, 10ms)
  stop     ends a running session (agents stop sampling; results stay); --purge also deletes it and
           every result, and frees its name

Options:
  -n, --namespace NS      namespace of the sessions (list: filter; others: where NAME lives)
  --phase PHASE           list: Pending, Running, Completed or Failed
  --top N                 show: how many hotspots (default 10, at most 100)
  --request TYPE          start: the request type as agents report it, e.g. "GET /api/orders/:id"
  --selector k=v,...      start: the pods' labels (matchLabels); empty = every pod with an agent
  --requests N            start: profile the next N requests of that type (1-10000)
  --duration D            start: hard deadline (e.g. 90s, 5m; at most 1h)
  --sample-interval I     start: sampling interval (1ms-1s)
  --max-per-pod N         start: cap per pod
  -f, --file FILE         start: a ProfilingSession YAML file (several documents allowed)
  --wait                  start: print progress until the session ends, then show it (exit 4
                          when it Failed or profiled nothing)
  --purge                 stop: remove the session and its results
  --json                  print the API's JSON instead of text
  -h, --help              this text

${CONNECTION_HELP}

Exit codes: 0 done; 1 the operator refused (its error code and message are printed, e.g.
SONDE_NOT_FOUND, SONDE_INVALID_SPEC with every problem, SONDE_AUTH_REQUIRED); 2 bad arguments or a bad
session file (nothing sent); 3 the operator could not be reached (refused, TLS, timeout); 4 (--wait)
a session ended Failed or with nothing profiled.`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  namespace: { type: 'string', short: 'n' },
  phase: { type: 'string' },
  top: { type: 'string' },
  request: { type: 'string' },
  selector: { type: 'string' },
  requests: { type: 'string' },
  duration: { type: 'string' },
  'sample-interval': { type: 'string' },
  'max-per-pod': { type: 'string' },
  file: { type: 'string', short: 'f' },
  purge: { type: 'boolean' },
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const PHASES = ['Pending', 'Running', 'Completed', 'Failed'];
const MAX_FILE = 1024 * 1024;
const SUBCOMMANDS = ['list', 'show', 'start', 'stop'];
// Which flags each subcommand takes, so a flag given to the wrong one is an error, not ignored.
const ONLY: Record<string, string[]> = {
  phase: ['list'],
  top: ['show'],
  request: ['start'],
  selector: ['start'],
  requests: ['start'],
  duration: ['start'],
  'sample-interval': ['start'],
  'max-per-pod': ['start'],
  file: ['start'],
  purge: ['stop'],
  wait: ['start'],
};

/** Runs `sonde sessions …`; resolves with the exit code. */
export async function runSessions(argv: string[], env: NodeJS.ProcessEnv, io: CliIO = PROCESS_IO, now: () => number = Date.now): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, OPTIONS);
  } catch (e) {
    return reportError('sessions', e, io.stderr);
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(SESSIONS_HELP + '\n');
    return EXIT.ok;
  }
  const [sub = 'list', ...args] = parsed.positionals;
  return runRest('sessions', v, env, io, async (client) => {
    if (!SUBCOMMANDS.includes(sub)) throw new UsageError([`unknown subcommand ${JSON.stringify(sub)} (list, show, start, stop)`]);
    const wrong = Object.entries(ONLY).filter(([flag, subs]) => v[flag as keyof typeof v] !== undefined && !subs.includes(sub));
    if (wrong.length) throw new UsageError(wrong.map(([flag, subs]) => `--${flag} is for \`sonde sessions ${subs.join('|')}\`, not ${sub}`));
    const namespace = checkNamespace(v.namespace);
    const print = (value: unknown, text: string): void => void io.stdout.write((v.json ? JSON.stringify(value, null, 2) : text) + '\n');
    switch (sub) {
      case 'list': {
        if (args.length) throw new UsageError([`list takes no arguments, got ${JSON.stringify(args.join(' '))}`]);
        if (v.phase !== undefined && !PHASES.includes(v.phase)) throw new UsageError([`--phase must be one of ${PHASES.join(', ')}, got ${JSON.stringify(v.phase)}`]);
        const q = new URLSearchParams();
        if (namespace) q.set('namespace', namespace);
        if (v.phase) q.set('phase', v.phase);
        const res = await client.json<{ items: SessionView[] }>('GET', `/api/v1/sessions${q.toString() ? `?${q}` : ''}`);
        print(res, formatSessionList(res.items, now()));
        return EXIT.ok;
      }
      case 'show': {
        const ref = oneRef(args, 'show', namespace);
        let top = 10;
        if (v.top !== undefined) {
          top = Number(v.top);
          if (!/^\d+$/.test(v.top) || top < 1 || top > 100) throw new UsageError([`--top must be a whole number from 1 to 100, got ${JSON.stringify(v.top)}`]);
        }
        const view = await client.json<SessionView>('GET', `/api/v1/sessions/${ref}`);
        print(view, formatSession(view, now(), top));
        return EXIT.ok;
      }
      case 'stop': {
        const ref = oneRef(args, 'stop', namespace);
        const view = await client.json<SessionView | undefined>('DELETE', `/api/v1/sessions/${ref}${v.purge ? '?purge=true' : ''}`);
        if (view === undefined) print({ purged: decodeURIComponent(ref) }, `purged ${decodeURIComponent(ref)} and its results`);
        else print(view, `stopped ${view.namespace}/${view.name}: ${view.status.phase}, ${view.status.progress} requests profiled`);
        return EXIT.ok;
      }
      default:
        return start(client, args, v, namespace, io, print);
    }
  });
}

function oneRef(args: string[], sub: string, namespace: string | undefined): string {
  if (args.length !== 1) throw new UsageError([`${sub} takes one SESSION (an id, NAME or NAMESPACE/NAME), got ${args.length}`]);
  return sessionRef(args[0], namespace);
}

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
interface Body {
  name: string;
  namespace?: string;
  spec: Record<string, unknown>;
}

async function start(client: ApiClient, args: string[], v: Values, namespace: string | undefined, io: CliIO, print: (value: unknown, text: string) => void): Promise<number> {
  const bodies = v.file !== undefined ? fromFile(v.file, args, v, namespace) : [fromFlags(args, v, namespace)];
  let failed = 0;
  const created: SessionView[] = [];
  for (const body of bodies) {
    try {
      const res = await client.json<SessionView & { warnings?: unknown }>('POST', '/api/v1/sessions', body);
      created.push(res);
      if (!v.json) {
        io.stdout.write(`created ${res.namespace}/${res.name} (id ${res.id}): ${res.status.phase}, ${res.status.progress}\n`);
        for (const note of notes(res)) io.stdout.write(`  ${note}\n`);
        if (!v.wait) io.stdout.write(`  follow it: sonde sessions show ${res.namespace}/${res.name}\n`);
      }
    } catch (e) {
      // One document refused does not stop the others; each failure is printed as it comes.
      if (!(e instanceof ApiError) || bodies.length === 1) throw e;
      failed++;
      io.stderr.write(`sonde sessions: ${body.namespace ?? 'default'}/${body.name}: ${e.code} (HTTP ${e.status}): ${e.message}\n`);
      for (const p of e.problems) io.stderr.write(`  ${p.field}: ${p.message}\n`);
    }
  }
  let sessionFailed = false;
  if (v.wait) {
    for (const [i, c] of created.entries()) {
      const ref = encodeURIComponent(c.id);
      const end = await waitForEnd(client, ref, {
        intervalMs: 1000,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        onChange: (view) => void (v.json || io.stdout.write(`  ${view.namespace}/${view.name}: ${view.status.phase} ${view.status.progress}\n`)),
      });
      created[i] = end;
      // A session that ended with nothing profiled has no profile to export: a script must know.
      if (end.status.phase === 'Failed' || end.status.requestsProfiled === 0) sessionFailed = true;
      if (!v.json) io.stdout.write(`\n${formatSession(end, Date.now())}\n`);
    }
  }
  if (v.json) print(bodies.length === 1 && v.file === undefined ? created[0] : { items: created }, '');
  return failed ? EXIT.api : sessionFailed ? EXIT.sessionFailed : EXIT.ok;
}

/** What the operator said about a new session beyond "accepted": its warnings, then conditions not True. */
function notes(view: SessionView & { warnings?: unknown }): string[] {
  const out: string[] = [];
  const warnings = Array.isArray(view.warnings) ? view.warnings.map((w) => (typeof w === 'string' ? w : JSON.stringify(w))) : [];
  for (const w of warnings) out.push(`warning: ${w}`);
  // Complete=False only says it is under way; the others (Ready=False: no agents, no pods…) matter now.
  // A condition that repeats a warning (RequestTypeSeen) is not printed twice.
  for (const c of view.status.conditions) if (c.status !== 'True' && c.type !== 'Complete' && c.message && !warnings.includes(c.message)) out.push(`note: ${c.type} ${c.status} (${c.reason}): ${c.message}`);
  return out.map((s) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 500));
}

function fromFlags(args: string[], v: Values, namespace: string | undefined): Body {
  const problems: string[] = [];
  if (args.length !== 1) problems.push(`start takes one NAME (or -f FILE), got ${args.length} arguments`);
  const name = args[0] ?? '';
  if (args.length === 1 && !isSessionName(name)) problems.push(`the session name must be a lowercase DNS name (a-z, 0-9, - and .), got ${JSON.stringify(name)}`);
  if (v.request === undefined) problems.push('--request TYPE is required (see the request types: the UI, or GET /api/v1/request-types)');
  const spec: Record<string, unknown> = {};
  if (v.request !== undefined) spec.request = v.request;
  spec.selector = { matchLabels: v.selector !== undefined ? parseSelector(v.selector, problems) : {} };
  const whole = (value: string | undefined, flag: string, key: string): void => {
    if (value === undefined) return;
    if (!/^-?\d+$/.test(value)) problems.push(`${flag} must be a whole number, got ${JSON.stringify(value)}`);
    else spec[key] = Number(value); // the operator checks the range and reports it with the rest
  };
  whole(v.requests, '--requests', 'requests');
  whole(v['max-per-pod'], '--max-per-pod', 'maxRequestsPerPod');
  if (v.duration !== undefined) spec.duration = v.duration;
  if (v['sample-interval'] !== undefined) spec.sampleInterval = v['sample-interval'];
  if (problems.length) throw new UsageError(problems);
  return { name, ...(namespace ? { namespace } : {}), spec };
}

function parseSelector(text: string, problems: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return labels;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq <= 0 || key === '') problems.push(`--selector: ${JSON.stringify(part)} is not key=value`);
    else if (key in labels) problems.push(`--selector: ${key} is given twice`);
    else labels[key] = value; // the operator validates label syntax
  }
  return labels;
}

function fromFile(path: string, args: string[], v: Values, namespace: string | undefined): Body[] {
  const extra = ['request', 'selector', 'requests', 'duration', 'sample-interval', 'max-per-pod'].filter((f) => v[f as keyof Values] !== undefined);
  if (args.length || extra.length) throw new UsageError([`-f FILE takes the whole session from the file; drop ${[...args, ...extra.map((f) => `--${f}`)].join(' ')}`]);
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError([`-f ${path}: not a regular file`]);
    if (st.size > MAX_FILE) throw new UsageError([`-f ${path}: ${st.size} bytes, more than the ${MAX_FILE} a session file may have`]);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError([`-f ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`]);
  }
  const parsed = parseSessionDocuments(text);
  if (!parsed.ok) throw new UsageError(parsed.problems.map((p) => `${path}: ${p}`));
  if (parsed.sessions.length === 0) throw new UsageError([`${path}: no ProfilingSession in the file`]);
  const bodies: Body[] = [];
  for (const s of parsed.sessions) {
    if (namespace !== undefined && s.namespace !== namespace) throw new UsageError([`${path}: the document at line ${s.line} is in namespace ${s.namespace}, but --namespace says ${namespace}`]);
    bodies.push({ name: s.name, namespace: s.namespace, spec: s.spec as Record<string, unknown> });
  }
  return bodies;
}

import { randomUUID } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Logger } from 'pino';
import type { SessionEngine } from '../engine/contracts.js';
import type { ResultReader } from '../store/contracts.js';
import { resolveSpec, describeProblems } from '../../src/session/validate.js';
import type { SessionView } from '../../src/session/types.js';
import { parseSessionDocuments } from './session-documents.js';

export interface FileSessionsOptions {
  /** A YAML file, or a directory whose `*.yaml` / `*.yml` files are read (not recursively). */
  path: string;
  engine: SessionEngine;
  reader: ResultReader;
  log: Logger;
  /** Changes closer together than this are read once. */
  debounceMs?: number;
}

interface Applied {
  id: string;
  generation: number;
  /** The spec as the engine received it, canonicalised, to tell an edit from a re-save. */
  canon: string;
}

/** A spec's identity for "did it change": its resolved form when valid, else the text as written. */
function canonical(spec: unknown): string {
  const r = resolveSpec(spec);
  if (!r.ok) return `raw:${JSON.stringify(spec)}`;
  const { durationMs: _d, sampleIntervalMs: _s, ...plain } = r.spec;
  return JSON.stringify(plain, Object.keys(plain).sort());
}

/**
 * Sessions from YAML files of ProfilingSessions, kept in step with the files: a new document applies a
 * session, an edited spec applies the next generation (the engine accepts or refuses the edit), a
 * removed document removes the session (its results stay in the store). A file that does not parse is
 * logged with every problem and otherwise ignored: its sessions stay as they were until it is fixed.
 */
export class FileSessions {
  private readonly byFile = new Map<string, Map<string, Applied>>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly options: FileSessionsOptions) {
    this.log = options.log;
  }

  /** Reads the files once, then watches them. Rejects if the path does not exist. */
  async start(): Promise<void> {
    const st = await stat(this.options.path).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`--sessions ${this.options.path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    });
    const isDir = st.isDirectory();
    const dir = isDir ? this.options.path : dirname(this.options.path);
    // Watch the directory even for one file: editors save by renaming a new file over the old one.
    this.watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (!isDir && name !== null && name !== basename(this.options.path)) return;
      this.schedule();
    });
    this.watcher.on('error', (err) => this.log.error({ err, path: this.options.path }, 'cannot watch the sessions path; changes will not be seen'));
    await this.rescan();
  }

  /** Reads everything again now (also what the watcher does, debounced). */
  rescan(): Promise<void> {
    this.running = this.running.then(() => this.scan()).catch((err: unknown) => this.log.error({ err }, 'reading session files failed'));
    return this.running;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rescan(), this.options.debounceMs ?? 150);
  }

  private async files(): Promise<string[]> {
    const st = await stat(this.options.path).catch(() => undefined);
    if (!st) return [];
    if (!st.isDirectory()) return [this.options.path];
    const names = await readdir(this.options.path);
    return names.filter((n) => ['.yaml', '.yml'].includes(extname(n)) && !n.startsWith('.')).sort().map((n) => join(this.options.path, n));
  }

  private async scan(): Promise<void> {
    if (this.closed) return;
    const files = await this.files();
    for (const file of files) await this.scanFile(file);
    // A file that went away takes its sessions with it.
    for (const file of [...this.byFile.keys()]) {
      if (files.includes(file)) continue;
      for (const applied of this.byFile.get(file)!.values()) this.remove(applied.id, file);
      this.byFile.delete(file);
    }
  }

  private async scanFile(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      // Mid-rename or unreadable: keep what we had; the next change event reads it again.
      this.log.warn({ err, file }, 'cannot read a session file; keeping its sessions as they were');
      return;
    }
    const parsed = parseSessionDocuments(text);
    if (!parsed.ok) {
      this.log.error({ file, problems: parsed.problems }, `session file not applied: ${parsed.problems.join('; ')}`);
      return;
    }
    const previous = this.byFile.get(file) ?? new Map<string, Applied>();
    const next = new Map<string, Applied>();
    for (const doc of parsed.sessions) {
      const key = `${doc.namespace}/${doc.name}`;
      const canon = canonical(doc.spec);
      const known = previous.get(key);
      const before = known ?? this.adopt(doc.namespace, doc.name, file);
      if (before === null) continue;
      if (known && known.canon === canon) {
        next.set(key, known);
        continue;
      }
      const resolved = resolveSpec(doc.spec);
      if (!resolved.ok) this.log.warn({ file, session: key, problems: resolved.problems }, `session spec is invalid: ${describeProblems(resolved.problems)}`);
      // Adopted after a restart with the same spec: apply the same generation again (idempotent, resumes).
      const same = before !== undefined && before.canon === canon;
      const applied: Applied = { id: before?.id ?? randomUUID(), generation: before ? before.generation + (same ? 0 : 1) : 1, canon };
      const existing = this.options.engine.get(applied.id) ?? this.options.reader.getSession(applied.id);
      try {
        this.options.engine.apply({
          id: applied.id,
          name: doc.name,
          namespace: doc.namespace,
          source: 'file',
          createdAt: existing?.createdAt ?? new Date().toISOString(),
          generation: applied.generation,
          spec: doc.spec,
        });
        this.log.info({ file, session: applied.id, name: key, generation: applied.generation }, known ? 'session updated from file' : 'session applied from file');
        next.set(key, applied);
      } catch (err) {
        this.log.error({ err, file, session: key }, 'session from file not applied');
        if (before) next.set(key, before);
      }
    }
    for (const [key, applied] of previous) if (!next.has(key)) this.remove(applied.id, file, key);
    this.byFile.set(file, next);
  }

  /**
   * A session this source did not apply in this process: after a restart, the store's file session of
   * that name (same id, so it resumes); a name another file or the API already holds → null (skip).
   */
  private adopt(namespace: string, name: string, file: string): Applied | undefined | null {
    const key = `${namespace}/${name}`;
    for (const [other, sessions] of this.byFile) {
      if (other !== file && sessions.has(key)) {
        this.log.error({ file, other, session: key }, `session ${key} is already defined in ${other}; this document is ignored`);
        return null;
      }
    }
    const view: SessionView | undefined = this.options.engine.list().find((s) => s.namespace === namespace && s.name === name) ?? this.options.reader.findSession(namespace, name);
    if (!view) return undefined;
    if (view.source !== 'file') {
      this.log.error({ file, session: key, source: view.source }, `session ${key} already exists (created through the ${view.source}); this document is ignored`);
      return null;
    }
    return { id: view.id, generation: view.generation, canon: canonical(view.spec) };
  }

  private remove(id: string, file: string, key?: string): void {
    try {
      this.options.engine.remove(id);
      this.log.info({ file, session: id, name: key }, 'session removed: its document is gone');
    } catch (err) {
      this.log.error({ err, file, session: id }, 'removing a file session failed');
    }
  }
}

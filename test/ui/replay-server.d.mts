/** Types of replay-server.mjs (plain JS so the benchmark runs it without a build). */
export interface RecordedResponse {
  method: string;
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  status: number;
  contentType: string;
  headers?: Record<string, string>;
  file?: string;
  key: string;
  data: Buffer;
  /** Which of several layered sets it came from (0 = first). */
  layer?: number;
}
export interface FixtureSet {
  meta: Record<string, any>;
  responses: RecordedResponse[];
  events: { event: string; data: unknown }[];
}
export interface ReplayServer {
  url: string;
  unmatched: string[];
  requests: string[];
  setUnreachable(v: boolean): void;
  setFixtures(f: FixtureSet): void;
  close(): Promise<void>;
}
export function requestKey(method: string, path: string, query: string | Record<string, string>): string;
export function canonical(value: unknown): string;
export function loadFixtures(dir: string): FixtureSet;
export function layered(...sets: FixtureSet[]): FixtureSet;
export function startReplayServer(options: { uiDir: string; fixtures: FixtureSet; replayEvents?: boolean; eventDelayMs?: number }): Promise<ReplayServer>;
export function memoryResponse(method: string, path: string, query: Record<string, string> | undefined, status: number, body: unknown, contentType?: string): RecordedResponse;

import { ApiClient } from './api-client.js';
import { ApiError, EXIT, reportError } from './cli-errors.js';
import { type Connection, isLoopback, resolveConnection } from './connection.js';

/** Where a REST command writes: stdout for results, stderr for errors and notes. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** The process's own streams. */
export const PROCESS_IO: CliIO = { stdout: process.stdout, stderr: process.stderr };

/**
 * Runs one REST command: resolves the connection, calls `body`, and turns every failure into its
 * message and exit code (cli-errors.ts). A 401/403 gets a hint built from the operator's public
 * `/api/v1/info` (which auth mode it runs), so the user learns what token to bring.
 */
export async function runRest(command: string, connectionValues: Record<string, unknown>, env: NodeJS.ProcessEnv, io: CliIO, body: (client: ApiClient, conn: Connection) => Promise<number>): Promise<number> {
  let conn: Connection | undefined;
  let client: ApiClient | undefined;
  try {
    conn = resolveConnection(connectionValues as Parameters<typeof resolveConnection>[0], env);
    if (conn.token !== undefined && conn.base.protocol === 'http:' && !isLoopback(conn.base)) {
      io.stderr.write(`sonde ${command}: warning: sending the token from ${conn.tokenSource} over plain http to ${conn.base.host}; anyone on the path can read it (use https with --ca, or kubectl port-forward)\n`);
    }
    client = new ApiClient(conn);
    return await body(client, conn);
  } catch (err) {
    const hint = err instanceof ApiError && client && conn ? await authHint(client, conn, err) : undefined;
    return reportError(command, err, io.stderr, hint);
  }
}

async function authHint(client: ApiClient, conn: Connection, err: ApiError): Promise<string | undefined> {
  if (err.status !== 401 && err.status !== 403) return undefined;
  let auth: string | undefined;
  try {
    auth = (await client.json<{ auth?: string }>('GET', '/api/v1/info')).auth;
  } catch {
    return undefined;
  }
  if (err.status === 403) return auth === 'kubernetes' ? 'the operator checks RBAC: your token needs list on profilingsessions.sonde.dev in the namespace (writes are done with kubectl)' : undefined;
  if (conn.token === undefined) {
    if (auth === 'token') return "this operator runs with --auth token: pass its SONDE_TOKEN with --token, --token-file or SONDE_API_TOKEN";
    if (auth === 'kubernetes') return 'this operator runs with --auth kubernetes: pass a Kubernetes token, e.g. --token "$(kubectl create token NAME)"';
    return undefined;
  }
  return `the operator (--auth ${auth ?? '?'}) refused the token from ${conn.tokenSource}`;
}

/** Exit code when every step succeeded. */
export const OK = EXIT.ok;

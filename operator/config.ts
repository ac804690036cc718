import { parseArgs } from 'node:util';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { negativeValuesInline } from './cli-args.js';

/**
 * The operator's configuration, read once: `readEnv` reads the environment, `parseOperatorFlags` reads
 * the command line, `mergeConfig` (pure) layers defaults < environment < flags, and `validateConfig`
 * rejects what is wrong with one clear message per problem. Nothing else reads `process.env`.
 */
export type OperatorMode = 'standalone' | 'cluster';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface OperatorConfig {
  mode: OperatorMode;
  port: number;
  host: string;
  /** Directory of the SQLite store. */
  dataDir: string;
  /** Standalone: a ProfilingSession YAML file or a directory of them, watched for changes. */
  sessionsPath?: string;
  /** Cluster: watch only this namespace (cluster-wide when unset). */
  namespace?: string;
  /** Standalone: the shared agent token. Unset: only loopback listeners are allowed (see validate). */
  token?: string;
  /** Cluster: a kubeconfig file; unset means in-cluster, then the default kubeconfig. */
  kubeconfig?: string;
  /** Base of result URLs (`resultURL`); defaults to `http://host:port`. */
  publicUrl?: string;
  /** The built UI (index.html, app.js, app.css). */
  uiDir: string;
  logLevel: LogLevel;
  /** Largest accepted REST request body. */
  bodyLimitBytes: number;
  // ---- TLS, admission webhook and injection (operator/tls, operator/webhook) ----
  /** Where the operator runs: its TLS Secret lives here, and the webhook never injects here. */
  operatorNamespace?: string;
  /** The operator's Service: certificate names and the default agent URL. */
  serviceName: string;
  /** Cluster: a Secret (in the operator namespace) holding the operator-made CA and serving certificate. */
  tlsSecret?: string;
  /** `tls.crt`, `tls.key`, `ca.crt` from a mounted Secret (cert-manager). */
  tlsCertDir?: string;
  /** HTTPS admission webhook port (served in cluster mode when TLS is configured). */
  webhookPort: number;
  /** The MutatingWebhookConfiguration whose caBundle the operator keeps. */
  webhookConfig: string;
  /** Out of cluster: register the webhook configuration with this URL. */
  webhookUrl?: string;
  /** Image of the injected init container. */
  agentImage?: string;
  /** What injected agents dial; default `wss://<service>.<operator-namespace>.svc:<port>/v1/agents`. */
  agentUrl?: string;
  /** Who may use the REST API and UI on the main port (`--auth`); unset: see `authMode`. */
  auth?: AuthMode;
  /** A second listener on 127.0.0.1 only, plain HTTP, auth `none`, for `kubectl port-forward` (`--local-port`). */
  localPort?: number;
}

/** `--auth`: `kubernetes` (TokenReview + SubjectAccessReview), `token` (standalone's SONDE_TOKEN), `none`. */
export type AuthMode = 'kubernetes' | 'token' | 'none';
const AUTH_MODES: AuthMode[] = ['kubernetes', 'token', 'none'];

/** The auth mode in force: as set, else `kubernetes` in a cluster, `token` with SONDE_TOKEN, else `none`. */
export function authMode(c: OperatorConfig): AuthMode {
  return c.auth ?? (c.mode === 'cluster' ? 'kubernetes' : c.token ? 'token' : 'none');
}

/** What the environment may set. Every field optional: absence means "use the default". */
export type ConfigLayer = Partial<OperatorConfig>;

/** A configuration that cannot run, with every problem listed. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Defaults that depend only on where the program lives (the UI directory) and the working directory. */
export function defaultConfig(uiDir: string, cwd: string): OperatorConfig {
  return {
    mode: 'cluster',
    port: 7070,
    host: '127.0.0.1',
    dataDir: resolve(cwd, '.sonde-data'),
    uiDir,
    logLevel: 'info',
    bodyLimitBytes: 1024 * 1024,
    serviceName: 'sonde',
    webhookPort: 9443,
    webhookConfig: 'sonde',
  };
}

/**
 * The environment variables the operator reads (documented in operator/README.md):
 * SONDE_PORT, SONDE_HOST, SONDE_DATA, SONDE_SESSIONS, SONDE_NAMESPACE, SONDE_TOKEN, SONDE_PUBLIC_URL,
 * SONDE_UI_DIR, SONDE_LOG_LEVEL, KUBECONFIG; for TLS and the webhook SONDE_OPERATOR_NAMESPACE (else
 * POD_NAMESPACE), SONDE_SERVICE_NAME, SONDE_TLS_SECRET, SONDE_TLS_CERT_DIR, SONDE_WEBHOOK_PORT,
 * SONDE_WEBHOOK_CONFIG, SONDE_WEBHOOK_URL, SONDE_AGENT_IMAGE, SONDE_AGENT_URL; for people's access SONDE_AUTH, SONDE_LOCAL_PORT. Values are kept as written; `validateConfig` judges them.
 */
export function readEnv(env: NodeJS.ProcessEnv): ConfigLayer {
  const out: ConfigLayer = {};
  const set = <K extends keyof OperatorConfig>(key: K, value: string | undefined): void => {
    if (value !== undefined && value !== '') out[key] = value as OperatorConfig[K];
  };
  if (env.SONDE_PORT) out.port = parsePort(env.SONDE_PORT, 'SONDE_PORT');
  set('host', env.SONDE_HOST);
  set('dataDir', env.SONDE_DATA);
  set('sessionsPath', env.SONDE_SESSIONS);
  set('namespace', env.SONDE_NAMESPACE);
  set('token', env.SONDE_TOKEN);
  set('publicUrl', env.SONDE_PUBLIC_URL);
  set('uiDir', env.SONDE_UI_DIR);
  set('logLevel', env.SONDE_LOG_LEVEL);
  set('kubeconfig', env.KUBECONFIG);
  set('auth', env.SONDE_AUTH);
  if (env.SONDE_LOCAL_PORT) out.localPort = parsePort(env.SONDE_LOCAL_PORT, 'SONDE_LOCAL_PORT');
  set('operatorNamespace', env.SONDE_OPERATOR_NAMESPACE || env.POD_NAMESPACE);
  set('serviceName', env.SONDE_SERVICE_NAME);
  set('tlsSecret', env.SONDE_TLS_SECRET);
  set('tlsCertDir', env.SONDE_TLS_CERT_DIR);
  if (env.SONDE_WEBHOOK_PORT) out.webhookPort = parsePort(env.SONDE_WEBHOOK_PORT, 'SONDE_WEBHOOK_PORT');
  set('webhookConfig', env.SONDE_WEBHOOK_CONFIG);
  set('webhookUrl', env.SONDE_WEBHOOK_URL);
  set('agentImage', env.SONDE_AGENT_IMAGE);
  set('agentUrl', env.SONDE_AGENT_URL);
  return out;
}

/** The flags of `sonde operator`. Unknown flags and missing values throw a ConfigError. */
export function parseOperatorFlags(argv: string[]): ConfigLayer {
  let parsed;
  try {
    parsed = parseArgs({
      args: negativeValuesInline(argv),
      strict: true,
      allowPositionals: false,
      options: {
        standalone: { type: 'boolean' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        data: { type: 'string' },
        sessions: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        'public-url': { type: 'string' },
        'ui-dir': { type: 'string' },
        'log-level': { type: 'string' },
        auth: { type: 'string' },
        'local-port': { type: 'string' },
        'operator-namespace': { type: 'string' },
        'service-name': { type: 'string' },
        'tls-secret': { type: 'string' },
        'tls-cert-dir': { type: 'string' },
        'webhook-port': { type: 'string' },
        'webhook-config': { type: 'string' },
        'webhook-url': { type: 'string' },
        'agent-image': { type: 'string' },
        'agent-url': { type: 'string' },
      },
    });
  } catch (err) {
    throw new ConfigError([`${(err as Error).message} (see \`sonde --help\`)`]);
  }
  const v = parsed.values;
  const out: ConfigLayer = {};
  if (v.standalone) out.mode = 'standalone';
  if (v.port !== undefined) out.port = parsePort(v.port, '--port');
  if (v.host !== undefined) out.host = v.host;
  if (v.data !== undefined) out.dataDir = v.data;
  if (v.sessions !== undefined) out.sessionsPath = v.sessions;
  if (v.namespace !== undefined) out.namespace = v.namespace;
  if (v.kubeconfig !== undefined) out.kubeconfig = v.kubeconfig;
  if (v['public-url'] !== undefined) out.publicUrl = v['public-url'];
  if (v['ui-dir'] !== undefined) out.uiDir = v['ui-dir'];
  if (v['log-level'] !== undefined) out.logLevel = v['log-level'] as LogLevel;
  if (v.auth !== undefined) out.auth = v.auth as AuthMode;
  if (v['local-port'] !== undefined) out.localPort = parsePort(v['local-port'], '--local-port');
  if (v['operator-namespace'] !== undefined) out.operatorNamespace = v['operator-namespace'];
  if (v['service-name'] !== undefined) out.serviceName = v['service-name'];
  if (v['tls-secret'] !== undefined) out.tlsSecret = v['tls-secret'];
  if (v['tls-cert-dir'] !== undefined) out.tlsCertDir = v['tls-cert-dir'];
  if (v['webhook-port'] !== undefined) out.webhookPort = parsePort(v['webhook-port'], '--webhook-port');
  if (v['webhook-config'] !== undefined) out.webhookConfig = v['webhook-config'];
  if (v['webhook-url'] !== undefined) out.webhookUrl = v['webhook-url'];
  if (v['agent-image'] !== undefined) out.agentImage = v['agent-image'];
  if (v['agent-url'] !== undefined) out.agentUrl = v['agent-url'];
  return out;
}

/** Layers configurations, later ones winning, and resolves paths against `cwd`. Pure. */
export function mergeConfig(cwd: string, base: OperatorConfig, ...layers: ConfigLayer[]): OperatorConfig {
  const out: OperatorConfig = { ...base };
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) (out as unknown as Record<string, unknown>)[key] = value;
    }
  }
  out.dataDir = resolve(cwd, out.dataDir);
  out.uiDir = resolve(cwd, out.uiDir);
  if (out.sessionsPath) out.sessionsPath = resolve(cwd, out.sessionsPath);
  if (out.kubeconfig) out.kubeconfig = resolve(cwd, out.kubeconfig.split(':')[0]!);
  if (out.tlsCertDir) out.tlsCertDir = resolve(cwd, out.tlsCertDir);
  return out;
}

/** A port flag or variable: the one wording for every command (operator, demo, sample app). */
export function parsePort(text: string, where: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new ConfigError([`${where} must be a port number from 0 to 65535, got ${JSON.stringify(text)}`]);
  return Number(text);
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Whether an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Rejects what cannot run; returns the config unchanged when it can. */
export function validateConfig(c: OperatorConfig): OperatorConfig {
  const problems: string[] = [];
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) problems.push(`port must be a whole number from 0 to 65535 (0 picks a free port), got ${c.port}`);
  if (!c.host || (isIP(c.host) === 0 && !/^[A-Za-z0-9.-]+$/.test(c.host))) problems.push(`host must be an IP address or a host name, got ${JSON.stringify(c.host)}`);
  if (!LOG_LEVELS.includes(c.logLevel)) problems.push(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(c.logLevel)}`);
  if (c.namespace !== undefined && !NAMESPACE.test(c.namespace)) problems.push(`namespace ${JSON.stringify(c.namespace)} is not a valid Kubernetes namespace name`);
  if (c.mode === 'cluster' && c.sessionsPath) problems.push('--sessions is for standalone mode; in a cluster, sessions are ProfilingSession objects (kubectl apply)');
  if (c.mode === 'standalone' && c.namespace) problems.push('--namespace is for cluster mode; standalone sessions carry their own namespace');
  // Without a shared token anyone who can reach the port could pose as an agent: allow that only on loopback.
  if (c.mode === 'standalone' && !c.token && !isLoopback(c.host)) problems.push(`listening on ${c.host} needs SONDE_TOKEN set, so that only your agents can connect (or listen on 127.0.0.1)`);
  if (c.token !== undefined && c.token.length < 8) problems.push('SONDE_TOKEN must be at least 8 characters');
  if (c.publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(c.publicUrl)) problems.push(`public URL must start with http:// or https://, got ${JSON.stringify(c.publicUrl)}`);
  if (!Number.isInteger(c.bodyLimitBytes) || c.bodyLimitBytes < 1024) problems.push('body limit must be at least 1024 bytes');
  // People's access to the API and UI (apiauth): an unauthenticated API only where only this machine reaches it.
  if (c.auth !== undefined && !AUTH_MODES.includes(c.auth)) problems.push(`auth must be one of ${AUTH_MODES.join(', ')}, got ${JSON.stringify(c.auth)}`);
  else if (authMode(c) === 'none' && !isLoopback(c.host)) problems.push(`--auth none serves every namespace's profiles to anyone who reaches ${c.host}: use it only on a loopback host (or --local-port behind kubectl port-forward), or use --auth ${c.mode === 'cluster' ? 'kubernetes' : 'token with SONDE_TOKEN'}`);
  else if (c.auth === 'token' && !c.token) problems.push('--auth token needs SONDE_TOKEN set (at least 8 characters)');
  else if (c.auth === 'kubernetes' && c.mode !== 'cluster') problems.push('--auth kubernetes needs a cluster (it asks the API server to review tokens); standalone uses --auth token or none');
  if (c.localPort !== undefined && (!Number.isInteger(c.localPort) || c.localPort < 0 || c.localPort > 65535)) problems.push(`local port must be a whole number from 0 to 65535, got ${c.localPort}`);
  else if (c.localPort !== undefined && c.localPort !== 0 && c.localPort === c.port) problems.push(`--local-port ${c.localPort} is the main port: pick another`);
  problems.push(...validateTlsConfig(c));
  if (problems.length) throw new ConfigError(problems);
  return c;
}

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether TLS is configured (either source): the main port then serves HTTPS and WSS. */
export const tlsConfigured = (c: OperatorConfig): boolean => c.tlsSecret !== undefined || c.tlsCertDir !== undefined;

/** The TLS and webhook flags' problems (operator/tls, operator/webhook). */
function validateTlsConfig(c: OperatorConfig): string[] {
  const problems: string[] = [];
  if (c.operatorNamespace !== undefined && !NAMESPACE.test(c.operatorNamespace)) problems.push(`operator namespace ${JSON.stringify(c.operatorNamespace)} is not a valid Kubernetes namespace name`);
  if (!DNS_LABEL.test(c.serviceName)) problems.push(`service name ${JSON.stringify(c.serviceName)} is not a valid Service name (a DNS label)`);
  if (c.tlsSecret !== undefined && c.tlsCertDir !== undefined) problems.push('--tls-secret and --tls-cert-dir are two ways to get a certificate: give one');
  if (c.tlsSecret !== undefined) {
    if (!DNS_NAME.test(c.tlsSecret) || c.tlsSecret.length > 253) problems.push(`--tls-secret ${JSON.stringify(c.tlsSecret)} is not a valid Secret name`);
    if (c.mode !== 'cluster') problems.push('--tls-secret stores the certificate in the cluster; standalone mode can use --tls-cert-dir');
  }
  if (c.mode === 'cluster' && tlsConfigured(c) && c.operatorNamespace === undefined) problems.push('TLS in a cluster needs the operator namespace (--operator-namespace, SONDE_OPERATOR_NAMESPACE or POD_NAMESPACE): the certificate names the Service in it, and the webhook never injects there');
  if (!Number.isInteger(c.webhookPort) || c.webhookPort < 0 || c.webhookPort > 65535) problems.push(`webhook port must be a whole number from 0 to 65535, got ${c.webhookPort}`);
  else if (c.webhookPort !== 0 && c.webhookPort === c.port) problems.push(`the webhook port and the main port are both ${c.port}; give them different ports`);
  if (!DNS_NAME.test(c.webhookConfig) || c.webhookConfig.length > 253) problems.push(`--webhook-config ${JSON.stringify(c.webhookConfig)} is not a valid object name`);
  if (c.webhookUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(c.webhookUrl);
    } catch {
      /* reported below */
    }
    // The API server calls only https URLs, without user info, query or fragment.
    if (!url || url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) problems.push(`--webhook-url must be an https:// URL without user, query or fragment, got ${JSON.stringify(c.webhookUrl)}`);
    if (c.mode !== 'cluster' || !tlsConfigured(c)) problems.push('--webhook-url registers the webhook in a cluster: it needs cluster mode and --tls-secret or --tls-cert-dir');
  }
  if (c.agentImage !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._\/:@-]{0,511}$/.test(c.agentImage)) problems.push(`--agent-image ${JSON.stringify(c.agentImage)} is not an image reference`);
  if (c.agentUrl !== undefined && !/^wss?:\/\/[^/\s]+(\/\S*)?$/.test(c.agentUrl)) problems.push(`--agent-url must be a ws:// or wss:// URL, got ${JSON.stringify(c.agentUrl)}`);
  return problems;
}

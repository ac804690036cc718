import { createServer } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildServer } from './api/server.js';
import { noAuth } from './auth/access-resolver.js';
import { buildAccessResolver } from './auth/build-access.js';
import { hostPolicy } from './auth/host-check.js';
import { readVersion } from './api/version.js';
import { type OperatorConfig, defaultConfig, mergeConfig, parseOperatorFlags, readEnv, tlsConfigured, validateConfig } from './config.js';
import { systemClock } from './clock.js';
import { LogDestination } from './log-destination.js';
import type { TlsRuntime } from './webhook/tls-runtime.js';
import type { AgentAuthenticator, PodDirectory } from './engine/contracts.js';
import { Engine } from './engine/engine.js';
import { AgentHub } from './hub/agent-hub.js';
import { HelloLabelDirectory } from './hub/hello-label-directory.js';
import { ensureWritableDataDir } from './data-dir.js';
import type { ClusterMode } from './kube/cluster-mode.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { FileSessions } from './standalone/file-sessions.js';
import { sharedTokenAuthenticator } from './standalone/shared-token.js';
import { SqliteStore } from './store/sqlite-store.js';

/**
 * The composition root: the one place that makes the root logger, builds every part of the operator,
 * wires them together for the mode, listens, and shuts them down in order. Everything else is given
 * what it needs.
 */

/** The built UI sits beside the compiled operator: dist/operator/main.js → dist/ui/. */
const DEFAULT_UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'ui');

/** Reads the configuration once: defaults < environment < flags, validated. Throws a ConfigError. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): OperatorConfig {
  return validateConfig(mergeConfig(cwd, defaultConfig(DEFAULT_UI_DIR, cwd), readEnv(env), parseOperatorFlags(argv)));
}

export interface StartOptions {
  /** Where logs go (default stdout). Tests pass a stream to read them. */
  logDestination?: DestinationStream;
  /** Install SIGTERM/SIGINT handlers that shut down and exit (default false; `runOperator` sets it). */
  handleSignals?: boolean;
}

/** A running operator. */
export interface RunningOperator {
  readonly config: OperatorConfig;
  /** `http://host:port` (`https://` with TLS), the UI and API. */
  readonly url: string;
  /** TLS and the admission webhook, when TLS is configured. */
  readonly tls?: TlsRuntime;
  readonly port: number;
  /** `http://127.0.0.1:PORT` of the `--local-port` listener, when there is one. */
  readonly localUrl?: string;
  readonly log: Logger;
  readonly app: FastifyInstance;
  /** Closes agents (1001), the HTTP server, the controller, the engine and the store, in that order. */
  close(): Promise<void>;
}

/** Binds port 0 once to learn a free port, so the engine can know its result URLs before listening. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** The host name of a URL, or undefined when it does not parse (the validator judges URLs). */
function safeHostname(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Builds and starts the operator for `config`. On failure everything already started is closed again. */
export async function startOperator(config: OperatorConfig, options: StartOptions = {}): Promise<RunningOperator> {
  // stdout through LogDestination: a closed pipe (`| head`) must never make shutdown or exit spin.
  const stdout = options.logDestination ? undefined : new LogDestination({ clock: systemClock });
  const flushAtExit = (): void => stdout?.flushSync();
  if (stdout) process.once('exit', flushAtExit);
  const log = pino({ level: config.logLevel, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, options.logDestination ?? stdout!);
  const steps: { what: string; close: () => unknown }[] = [];
  const closeAll = async (): Promise<void> => {
    for (const step of steps.reverse()) {
      try {
        await step.close();
      } catch (err) {
        log.error({ err }, `closing the ${step.what} failed`);
      }
    }
    steps.length = 0;
    log.flush?.();
    stdout?.flushSync();
    process.removeListener('exit', flushAtExit);
  };

  try {
    const port = config.port === 0 ? await freePort(config.host) : config.port;
    const url = `${tlsConfigured(config) ? 'https' : 'http'}://${urlHost(config.host)}:${port}`;

    ensureWritableDataDir(config.dataDir);
    const store = new SqliteStore({ file: join(config.dataDir, 'sonde.db'), log });
    steps.push({ what: 'store', close: () => store.close() });

    let cluster: ClusterMode | undefined;
    let kubeConfig: KubeConfig | undefined;
    let authenticator: AgentAuthenticator;
    if (config.mode === 'cluster') {
      // Loaded only here: the Kubernetes client is large, and standalone mode never needs it.
      const { createClusterMode, loadKubeConfig } = await import('./kube/cluster-mode.js');
      kubeConfig = loadKubeConfig(config.kubeconfig);
      cluster = createClusterMode({ kubeConfig, log, ...(config.namespace ? { namespace: config.namespace } : {}) });
      steps.push({ what: 'cluster controller', close: () => cluster!.stop() });
      authenticator = cluster.authenticator;
    } else {
      authenticator = sharedTokenAuthenticator(config.token);
    }

    const hub = new AgentHub({
      authenticator,
      log,
      // Agents wait (503, then a short retry) until the engine has recovered its sessions.
      waitForListener: true,
      // In a cluster the API shows the pod's real labels, not the ones an agent announced.
      ...(cluster ? { labelsOf: (pod) => cluster.podDirectory.labelsOf(pod) } : {}),
    });
    const podDirectory: PodDirectory = cluster ? cluster.podDirectory : new HelloLabelDirectory(hub);
    // In a cluster, recovery waits for the pod informer's first list, so pods are judged on a full cache.
    const engine = new Engine({ hub, store, podDirectory, log, baseURL: config.publicUrl ?? url, ...(cluster ? { podsSynced: cluster.podsSynced } : {}) });
    // Closed before the store (it flushes into it), after the hub (whose goodbyes it records).
    steps.splice(1, 0, { what: 'engine', close: () => engine.close() });

    // TLS before the HTTP server, which is built with its certificate; loaded only when configured.
    let tls: TlsRuntime | undefined;
    if (tlsConfigured(config)) {
      const { startTlsRuntime } = await import('./webhook/tls-runtime.js');
      tls = await startTlsRuntime({ config, ...(kubeConfig ? { kubeConfig } : {}), mainPort: port, clock: systemClock, log });
      steps.push({ what: 'TLS and webhook', close: () => tls!.close() });
    }

    // Who may use the API: decided per request at the edge from the caller's credentials (docs/SECURITY.md).
    const access = buildAccessResolver(config, {
      ...(kubeConfig ? { kubeConfig } : {}),
      log,
      knownNamespaces: () => [...store.listSessions({}).map((s) => s.namespace), ...engine.list().map((s) => s.namespace), ...hub.agents().map((a) => a.pod.namespace)],
    });
    // Names the main port answers for (DNS rebinding): besides IPs, localhost and *.svc, the Service's
    // short names (in-cluster clients may use them) and the host of a custom --agent-url.
    const ns = config.operatorNamespace;
    const agentHost = config.agentUrl ? safeHostname(config.agentUrl) : undefined;
    const hosts = hostPolicy({
      host: config.host,
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      extra: [config.serviceName, ...(ns ? [`${config.serviceName}.${ns}`] : []), ...(agentHost ? [agentHost] : [])],
    });
    const app = buildServer({
      reader: store,
      engine,
      hub,
      mode: config.mode,
      ready: () => store.db.open && (cluster ? cluster.ready() : true),
      log,
      uiDir: config.uiDir,
      version: readVersion(),
      ...(config.namespace ? { namespace: config.namespace } : {}),
      // The engine lets go of the run first, so a lingering run cannot write the session back.
      purge: (id) => void engine.purge(id),
      bodyLimitBytes: config.bodyLimitBytes,
      access,
      hosts,
      storeHealth: () => store.storeHealth(),
      ...(tls ? { https: { cert: tls.tls.current().cert, key: tls.tls.current().key } } : {}),
    });
    if (tls) tls.tls.onChange((m) => (app.server as unknown as TlsServer).setSecureContext({ cert: m.cert, key: m.key }));
    steps.push({ what: 'HTTP server', close: () => app.close() });
    // `--local-port`: the UI and API without credentials on 127.0.0.1 only, for `kubectl port-forward`
    // (whose own RBAC, pods/portforward in the operator's namespace, is the authorisation). No agents.
    let local: FastifyInstance | undefined;
    if (config.localPort !== undefined) {
      local = buildServer({
        reader: store,
        engine,
        hub,
        mode: config.mode,
        ready: () => store.db.open && (cluster ? cluster.ready() : true),
        log: log.child({ listener: 'local' }),
        uiDir: config.uiDir,
        version: readVersion(),
        ...(config.namespace ? { namespace: config.namespace } : {}),
        purge: (id) => void engine.purge(id),
        bodyLimitBytes: config.bodyLimitBytes,
        storeHealth: () => store.storeHealth(),
        access: noAuth(config.mode === 'standalone', 'port-forward'),
        hosts: hostPolicy({ host: '127.0.0.1' }),
        agents: false,
      });
      const l = local;
      steps.push({ what: 'local HTTP server', close: () => l.close() });
    }
    steps.push({ what: 'agent hub', close: () => hub.close() });

    if (config.mode === 'standalone' && config.sessionsPath) {
      const files = new FileSessions({ path: config.sessionsPath, engine, reader: store, log: log.child({ module: 'session-files' }) });
      steps.push({ what: 'session files', close: () => files.close() });
      await files.start();
    }

    await app.listen({ port, host: config.host });
    if (local) await local.listen({ port: config.localPort!, host: '127.0.0.1' });
    let closing: Promise<void> | undefined;
    if (cluster) {
      // Sessions are reconciled once the pod informer has listed, so a selector never meets an empty
      // directory by accident; meanwhile /healthz answers and /readyz says not ready.
      const c = cluster;
      c.podsSynced.then(
        () => {
          if (!closing) c.startSessionController(engine);
        },
        (err: unknown) => log.error({ err }, 'the pod informer failed to start'),
      );
    }
    log.info({ url, auth: access.mode, localPort: local ? (local.server.address() as { port: number }).port : undefined, mode: config.mode, dataDir: config.dataDir, namespace: config.namespace, sessions: config.sessionsPath }, 'operator listening');

    const running: RunningOperator = {
      config,
      url,
      port,
      ...(local ? { localUrl: `http://127.0.0.1:${(local.server.address() as { port: number }).port}` } : {}),
      log,
      app,
      ...(tls ? { tls } : {}),
      close: () => (closing ??= (async () => {
        log.info('operator shutting down');
        await closeAll();
      })()),
    };
    if (options.handleSignals) installSignalHandlers(running);
    return running;
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** SIGTERM/SIGINT: shut down in order, then exit; a second signal exits at once. */
function installSignalHandlers(op: RunningOperator): void {
  let count = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++count > 1) process.exit(130);
    op.log.info({ signal }, 'signal received');
    const force = setTimeout(() => {
      op.log.error('shutdown took more than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    op.close().then(
      () => process.exit(0),
      (err: unknown) => {
        op.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** `sonde operator …`: reads the configuration and runs until a signal. */
export async function runOperator(argv: string[], env: NodeJS.ProcessEnv): Promise<RunningOperator> {
  const config = loadConfig(argv, env);
  // A missing cluster is the user's to fix: say so and exit, rather than retry against localhost:8080.
  const { checkClusterConfig } = await import('./kube/cluster-config-check.js');
  checkClusterConfig(config, { argv, env });
  const op = await startOperator(config, { handleSignals: true });
  process.on('unhandledRejection', (err) => op.log.error({ err }, 'unhandled rejection'));
  return op;
}

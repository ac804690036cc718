#!/usr/bin/env node
import { ConfigError } from './config.js';

/**
 * The `sonde` command. Subcommands load lazily so `sonde --help` stays instant.
 *   sonde operator [--standalone] [flags]   the operator (cluster mode unless --standalone)
 *   sonde demo [--once] [--duration D]      standalone operator + sample app + traffic + a session
 *   sonde agent-bundle [--runtime R] DIR    copy the in-process agent into DIR (the init container's step)
 *   sonde sample-app | sample-traffic        the demo shop and its traffic alone (the cluster tour, examples/)
 *   sonde sessions | export                  clients of a running operator's REST API (operator/cli/)
 */
const HELP = `sonde — profile the next N requests of one type, in the pods you choose

Usage:
  sonde operator [--standalone] [options]   run the operator
  sonde demo [options]                      the standalone demo: operator, sample app, traffic, a session
  sonde sample-app [--port 8080] [--host H]  the demo's sample shop alone (for the cluster tour, examples/)
  sonde sample-traffic --target URL          the demo's request mix against a sample app, until stopped
  sonde agent-bundle [--runtime node|python] DIR
                                            copy the in-process agent into DIR (see sonde agent-bundle --help)
  sonde sessions [list|show|start|stop] ...  sessions of a running operator, through its REST API
  sonde export SESSION [--format pprof]      download a session's profile (pprof, collapsed, speedscope, ...)
  sonde COMMAND --help                       what one command does, its options and exit codes
  sonde --help | --version

Operator options:
  --standalone          no cluster: sessions from the REST API and --sessions files; agents match by SONDE_LABELS
  -p, --port PORT       HTTP port for the UI, REST API and agents (default 7070; 0 = any free port)  [SONDE_PORT]
  --host HOST           address to listen on (default 127.0.0.1)                                  [SONDE_HOST]
  --data DIR            directory of the SQLite store (default ./.sonde-data)                      [SONDE_DATA]
  --sessions PATH       standalone: a ProfilingSession YAML file or a directory of them (watched)  [SONDE_SESSIONS]
  -n, --namespace NS    cluster: watch only this namespace (default: all)                          [SONDE_NAMESPACE]
  --kubeconfig FILE     cluster: kubeconfig (default: in-cluster, then ~/.kube/config)              [KUBECONFIG]
  --public-url URL      base of result URLs in session status (default http://HOST:PORT)          [SONDE_PUBLIC_URL]
  --log-level LEVEL     fatal|error|warn|info|debug|trace|silent (default info)                   [SONDE_LOG_LEVEL]
  --auth MODE           who may use the API/UI: kubernetes|token|none (cluster: kubernetes;       [SONDE_AUTH]
                        standalone: token with SONDE_TOKEN, else none; none only on loopback)
  --local-port PORT     extra listener on 127.0.0.1, no auth, for kubectl port-forward            [SONDE_LOCAL_PORT]
  TLS, admission webhook and injection (cluster; with TLS the main port serves HTTPS and WSS):
  --operator-namespace NS  where the operator runs        [SONDE_OPERATOR_NAMESPACE, else POD_NAMESPACE]
  --service-name NAME   the operator's Service: certificate names, agent URL (default sonde)    [SONDE_SERVICE_NAME]
  --tls-secret NAME     Secret with the operator-made CA and certificate (made on first start)    [SONDE_TLS_SECRET]
  --tls-cert-dir DIR    tls.crt, tls.key, ca.crt from a mounted Secret (cert-manager)           [SONDE_TLS_CERT_DIR]
  --webhook-port PORT   HTTPS admission webhook, path /mutate-v1-pod (default 9443)             [SONDE_WEBHOOK_PORT]
  --webhook-config NAME MutatingWebhookConfiguration whose caBundle is kept (default sonde)   [SONDE_WEBHOOK_CONFIG]
  --webhook-url URL     out of cluster: register that configuration with this https URL          [SONDE_WEBHOOK_URL]
  --agent-image IMAGE   image of the injected init container                                     [SONDE_AGENT_IMAGE]
  --agent-url URL       what injected agents dial (default wss://SERVICE.NS.svc:PORT/v1/agents)     [SONDE_AGENT_URL]
  Agents authenticate in standalone mode with the shared token SONDE_TOKEN (required unless the
  operator listens on loopback); in a cluster with their ServiceAccount token (TokenReview).

Demo options:
  -p, --port PORT       operator port (default 7070, or a free one if taken)
  --once                exit when the demo session completes (for scripts and tests)
  --duration D          exit after this long (e.g. 90s, 5m)
  --requests N          requests the demo session profiles (default 200)

Docs: operator/README.md, docs/api.md`;

/** Runs the command line; resolves with the exit code for commands that end (help, errors, demo --once). */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(HELP + '\n');
        return 0;
      case '-v':
      case '--version': {
        const { readVersion } = await import('./api/version.js');
        process.stdout.write(readVersion() + '\n');
        return 0;
      }
      case 'operator': {
        if (rest.includes('--help') || rest.includes('-h')) {
          const { commandHelp } = await import('./cli/command-help.js');
          process.stdout.write((commandHelp(command, HELP) ?? HELP) + '\n');
          return 0;
        }
        const { runOperator } = await import('./main.js');
        await runOperator(rest, env);
        return undefined;
      }
      case 'demo': {
        if (rest.includes('--help') || rest.includes('-h')) {
          const { commandHelp } = await import('./cli/command-help.js');
          process.stdout.write((commandHelp(command, HELP) ?? HELP) + '\n');
          return 0;
        }
        const { runDemo } = await import('./demo/run-demo.js');
        return await runDemo(rest, env);
      }
      case 'sample-app':
      case 'sample-traffic': {
        if (rest.includes('--help') || rest.includes('-h')) {
          const { commandHelp } = await import('./cli/command-help.js');
          process.stdout.write((commandHelp(command, HELP) ?? HELP) + '\n');
          return 0;
        }
        const { runSampleApp, runSampleTraffic } = await import('./demo/sample-commands.js');
        return await (command === 'sample-app' ? runSampleApp(rest) : runSampleTraffic(rest));
      }
      case 'sessions': {
        const { runSessions } = await import('./cli/run-sessions.js');
        return await runSessions(rest, env);
      }
      case 'export': {
        const { runExport } = await import('./cli/run-export.js');
        return await runExport(rest, env);
      }
      case 'agent-bundle': {
        const { runAgentBundle } = await import('./agent-bundle/run-agent-bundle.js');
        return runAgentBundle(rest);
      }
      default:
        process.stderr.write(`sonde: unknown command ${JSON.stringify(command)}\nRun \`sonde --help\` for the commands.\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sonde: ${err.message}\n`);
      return 2;
    }
    // Startup failures (a port in use, a missing path, no cluster) are the user's to fix: the message
    // says what; the stack only with SONDE_DEBUG.
    process.stderr.write(`sonde: ${env.SONDE_DEBUG ? ((err as Error).stack ?? String(err)) : ((err as Error).message ?? String(err))}\n`);
    return 1;
  }
}

runCli(process.argv.slice(2), process.env).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sonde: ${String(err)}\n`);
    process.exitCode = 1;
  },
);

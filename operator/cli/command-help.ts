/**
 * `sonde COMMAND --help` for the commands whose options live in the main help (operator, demo) or in
 * their own small parsers (sample-app, sample-traffic). The operator's and the demo's option lists
 * are cut from the main help text, so the two can never disagree.
 */

/** The lines of `main` from the line equal to `title` up to the next blank or unindented line. */
function section(main: string, title: string): string {
  const lines = main.split('\n');
  const start = lines.indexOf(title);
  if (start < 0) return '';
  const out = [title];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === '' || !l.startsWith(' ')) break;
    out.push(l);
  }
  return out.join('\n');
}

/** The --help text of `command`, or undefined for commands that print their own. */
export function commandHelp(command: string, main: string): string | undefined {
  switch (command) {
    case 'operator':
      return `sonde operator — run the operator: REST API, UI and the agents' WebSocket on one port

Usage:
  sonde operator [--standalone] [options]

In a cluster (the default) it watches ProfilingSession objects and pods, serves the admission webhook
when TLS is configured, and writes session status back. With --standalone it needs no cluster:
sessions come from the REST API (sonde sessions start) and --sessions files, and agents match by
their SONDE_LABELS. Every flag has the environment variable shown in brackets; a flag wins.

${section(main, 'Operator options:')}

Examples:
  sonde operator --standalone                      http://127.0.0.1:7070, no auth on loopback
  SONDE_TOKEN=… sonde operator --standalone --host 0.0.0.0
  sonde operator --kubeconfig ~/.kube/config --namespace shop

Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (port in use, a missing path, no cluster);
2 bad flags or environment.`;
    case 'demo':
      return `sonde demo — the whole loop on one machine: a standalone operator, a sample shop with the agent
in two processes, traffic, and a session profiling the next N "GET /api/orders/:id" requests

Usage:
  sonde demo [options]

It prints the UI's address and the session's progress, then the top self time when it completes;
the UI keeps running until Ctrl-C (or --duration, --once).

${section(main, 'Demo options:')}

Exit codes: 0 done; 1 the demo could not start or (with --once) its session failed; 2 bad flags;
130 interrupted before the session started.`;
    case 'sample-app':
      return `sonde sample-app — the demo's sample shop alone (for the cluster tour in examples/)

Usage:
  sonde sample-app [--port 8080] [--host 127.0.0.1]

Serves the shop (GET /api/orders/:id and friends) until SIGTERM or SIGINT. Load the agent into it
with NODE_OPTIONS="--require /path/to/agent/preload.cjs" (see sonde agent-bundle --help).

Options:
  --port PORT   port to listen on (default 8080; 0 = any free port)
  --host HOST   address to listen on (default 127.0.0.1)
  -h, --help    this text

Exit codes: 0 stopped by a signal; 1 could not listen; 2 bad flags.`;
    case 'sample-traffic':
      return `sonde sample-traffic — the demo's request mix against a sample app, until stopped

Usage:
  sonde sample-traffic --target URL [--concurrency N] [--pause-ms MS]

Options:
  --target URL        the app's base URL, such as http://shop.sonde-demo:8080 (required)
  --concurrency N     parallel request loops (1-64, default 2)
  --pause-ms MS       pause between a loop's requests (0-60000, default 20)
  -h, --help          this text

Prints how many requests it sent when stopped (SIGTERM or SIGINT).
Exit codes: 0 stopped by a signal; 2 bad flags.`;
    default:
      return undefined;
  }
}

/** Where the page came from: the parts of `location` the hint needs. */
export interface PageOrigin {
  protocol: string;
  hostname: string;
  port: string;
}

/** The operator's loopback-only listener that the chart enables (`operator.localPort`, `--local-port`). */
export const LOCAL_LISTENER_PORT = 7071;
/** The namespace the README installs the chart into: the page cannot know the real one when the operator is away. */
export const OPERATOR_NAMESPACE = 'sonde-system';

/**
 * What to run when the operator stopped answering this page: commands that reach it again at the
 * address the page was actually served from, so following them brings this very page back. A page on
 * a loopback host came from a standalone operator on this machine or through `kubectl port-forward`
 * (whose remote side is the local listener, 7071: no login there); the local port is the page's own,
 * whatever it is. A page served from elsewhere came through the Service or an ingress.
 */
export function unreachableHint(page: PageOrigin): { text: string; commands: string } {
  const port = page.port !== '' ? page.port : page.protocol === 'https:' ? '443' : '80';
  if (isLoopback(page.hostname)) {
    const forward = port === String(LOCAL_LISTENER_PORT) ? port : `${port}:${LOCAL_LISTENER_PORT}`;
    return {
      text: `This page was served from port ${port} of this machine: by a standalone operator, or through kubectl port-forward. Start whichever it was again:`,
      commands: [
        `sonde operator --standalone --port ${port}`,
        `kubectl -n ${OPERATOR_NAMESPACE} get pods`,
        `kubectl -n ${OPERATOR_NAMESPACE} port-forward deploy/sonde ${forward}`,
      ].join('\n'),
    };
  }
  return {
    text: `Check that the operator is running and that ${page.hostname} still routes to it, for example:`,
    commands: [`kubectl -n ${OPERATOR_NAMESPACE} get pods`, `kubectl -n ${OPERATOR_NAMESPACE} get svc sonde`].join('\n'),
  };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]' || hostname === '::1';
}

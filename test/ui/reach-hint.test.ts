import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_LISTENER_PORT, OPERATOR_NAMESPACE, unreachableHint } from '../../ui/components/reach-hint.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

// The "operator unreachable" hint must bring back the page the user is looking at: the port it came
// from, whatever the operator's --port or the port-forward's local side was.
describe('unreachableHint', () => {
  it('on a loopback host, names the page\'s own port for a standalone operator and for the port-forward to the local listener', () => {
    const h = unreachableHint({ protocol: 'http:', hostname: 'localhost', port: '7071' });
    expect(h.commands).toContain('kubectl -n sonde-system port-forward deploy/sonde 7071');
    expect(h.commands).not.toContain('7071:7071');
    expect(h.commands).not.toContain('7070');
    expect(h.text).toContain('port 7071');
    const standalone = unreachableHint({ protocol: 'http:', hostname: '127.0.0.1', port: '7070' });
    expect(standalone.commands).toContain('sonde operator --standalone --port 7070');
    expect(standalone.commands).toContain('port-forward deploy/sonde 7070:7071');
    const other = unreachableHint({ protocol: 'http:', hostname: '[::1]', port: '18080' });
    expect(other.commands).toContain('port-forward deploy/sonde 18080:7071');
  });

  it('names the namespace the README installs into, as the token form does', () => {
    const h = unreachableHint({ protocol: 'http:', hostname: 'localhost', port: '7071' });
    expect(OPERATOR_NAMESPACE).toBe('sonde-system');
    expect(h.commands).toContain('kubectl -n sonde-system get pods');
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(`kubectl port-forward -n ${OPERATOR_NAMESPACE} deploy/sonde ${LOCAL_LISTENER_PORT}`);
  });

  it('takes the scheme\'s port when the URL has none', () => {
    expect(unreachableHint({ protocol: 'http:', hostname: 'localhost', port: '' }).commands).toContain('deploy/sonde 80:7071');
    expect(unreachableHint({ protocol: 'https:', hostname: 'localhost', port: '' }).commands).toContain('deploy/sonde 443:7071');
  });

  it('served from another host (the Service, an ingress): points at the operator and the route, not at a port-forward', () => {
    const h = unreachableHint({ protocol: 'https:', hostname: 'sonde.example.com', port: '' });
    expect(h.text).toContain('sonde.example.com');
    expect(h.commands).toContain('get pods');
    expect(h.commands).not.toContain('port-forward');
  });
});

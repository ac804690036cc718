import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, mergeConfig, parseOperatorFlags, readEnv, tlsConfigured, validateConfig } from '../../../operator/config.js';
import { defaultAgentUrl, webhookEndpoint } from '../../../operator/webhook/tls-runtime.js';

/** The TLS, webhook and injection flags of `sonde operator` (the contract's names), and what they refuse. */

const base = defaultConfig('/opt/sonde/ui', '/work');
const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => validateConfig(mergeConfig('/work', base, readEnv(env), parseOperatorFlags(argv)));
const problems = (argv: string[], env: NodeJS.ProcessEnv = {}): string[] => {
  try {
    load(argv, env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
};

describe('TLS and webhook configuration', () => {
  it('defaults: service sonde, webhook port 9443, configuration sonde, no TLS', () => {
    const c = load([]);
    expect(c).toMatchObject({ serviceName: 'sonde', webhookPort: 9443, webhookConfig: 'sonde' });
    expect(tlsConfigured(c)).toBe(false);
  });

  it('reads every flag and its environment variable, flags winning; the namespace falls back to POD_NAMESPACE', () => {
    const env = {
      POD_NAMESPACE: 'from-pod',
      SONDE_SERVICE_NAME: 'sonde-op',
      SONDE_TLS_SECRET: 'sonde-tls',
      SONDE_WEBHOOK_PORT: '8443',
      SONDE_WEBHOOK_CONFIG: 'sonde-webhook',
      SONDE_AGENT_IMAGE: 'ghcr.io/example/sonde:0.1.0',
      SONDE_AGENT_URL: 'wss://sonde.example:443/v1/agents',
    };
    expect(load([], env)).toMatchObject({ operatorNamespace: 'from-pod', serviceName: 'sonde-op', tlsSecret: 'sonde-tls', webhookPort: 8443, webhookConfig: 'sonde-webhook', agentImage: 'ghcr.io/example/sonde:0.1.0', agentUrl: 'wss://sonde.example:443/v1/agents' });
    expect(load([], { ...env, SONDE_OPERATOR_NAMESPACE: 'explicit' }).operatorNamespace).toBe('explicit');
    const c = load(['--operator-namespace', 'ops', '--service-name', 'x', '--webhook-port', '9444', '--webhook-config', 'y', '--agent-image', 'img:1', '--agent-url', 'ws://a:1/v1/agents', '--tls-secret', 'z', '--webhook-url', 'https://10.0.0.1:9444'], env);
    expect(c).toMatchObject({ operatorNamespace: 'ops', serviceName: 'x', webhookPort: 9444, webhookConfig: 'y', agentImage: 'img:1', agentUrl: 'ws://a:1/v1/agents', tlsSecret: 'z', webhookUrl: 'https://10.0.0.1:9444' });
    expect(load(['--tls-cert-dir', 'certs', '--operator-namespace', 'ops']).tlsCertDir).toBe('/work/certs');
  });

  it('refuses what cannot work, naming each problem', () => {
    expect(problems(['--tls-secret', 'a', '--tls-cert-dir', 'b', '--operator-namespace', 'ops'])).toContain('--tls-secret and --tls-cert-dir are two ways to get a certificate: give one');
    expect(problems(['--tls-secret', 'a']).join()).toMatch(/TLS in a cluster needs the operator namespace/);
    expect(problems(['--standalone', '--tls-secret', 'a']).join()).toMatch(/standalone mode can use --tls-cert-dir/);
    expect(problems(['--tls-secret', 'Not_A_Name', '--operator-namespace', 'ops']).join()).toMatch(/not a valid Secret name/);
    expect(problems(['--operator-namespace', 'Ops!']).join()).toMatch(/operator namespace "Ops!"/);
    expect(problems(['--service-name', 'a.b']).join()).toMatch(/service name "a.b"/);
    expect(problems(['--webhook-port', '7070']).join()).toMatch(/webhook port and the main port are both 7070/);
    expect(problems(['--webhook-port', '99999']).join()).toMatch(/--webhook-port must be a port number from 0 to 65535, got "99999"/);
    expect(problems(['--tls-secret', 's', '--operator-namespace', 'o', '--webhook-url', 'http://x:9443']).join()).toMatch(/--webhook-url must be an https:\/\/ URL/);
    expect(problems(['--tls-secret', 's', '--operator-namespace', 'o', '--webhook-url', 'https://u:p@x:9443']).join()).toMatch(/without user/);
    expect(problems(['--webhook-url', 'https://x:9443']).join()).toMatch(/needs cluster mode and --tls-secret or --tls-cert-dir/);
    expect(problems(['--agent-image', 'img; rm -rf /']).join()).toMatch(/not an image reference/);
    expect(problems(['--agent-url', 'http://x/v1/agents']).join()).toMatch(/ws:\/\/ or wss:\/\//);
  });

  it('the default agent URL is the Service in the operator namespace on the main port; a bare webhook URL gets the path', () => {
    const c = load(['--operator-namespace', 'ops', '--tls-secret', 's']);
    expect(defaultAgentUrl(c, 7070)).toBe('wss://sonde.ops.svc:7070/v1/agents');
    expect(webhookEndpoint('https://127.0.0.1:9443')).toBe('https://127.0.0.1:9443/mutate-v1-pod');
    expect(webhookEndpoint('https://127.0.0.1:9443/custom')).toBe('https://127.0.0.1:9443/custom');
  });
});

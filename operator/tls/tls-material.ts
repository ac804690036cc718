/** PEM texts a TLS server needs, plus the CA that clients (the API server, agents) trust. */
export interface TlsMaterial {
  /** The serving certificate (PEM). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** The CA certificate (PEM): the webhook's `caBundle` and the agents' `SONDE_CA_CERT`. */
  ca: string;
  /** The CA's private key, when the operator made the CA itself (absent with cert-manager). */
  caKey?: string;
}

/** The names the serving certificate must carry: the Service's DNS names, `localhost` and `127.0.0.1`. */
export function servingNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, 'localhost', '127.0.0.1'];
}

import { readFileSync } from 'node:fs';
import type { GatewayConfig, QuarryConfig } from '../config.ts';

/** What an HTTPS listener needs: its certificate and key, and optionally the CA its clients must present. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  /** When set, clients must present a certificate signed by this CA (mutual TLS); others are refused in the handshake. */
  clientCa?: Buffer;
}

/** What the gateway presents to, and trusts from, the subgraphs. */
export interface ClientTls {
  /** Trust anchor for the subgraphs' server certificates (besides the system roots). */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** The listener's TLS from TLS_CERT/TLS_KEY (and SUBGRAPH_CLIENT_CA for a subgraph), read once at startup. */
export function serverTlsFrom(
  config: Pick<QuarryConfig, 'tls' | 'subgraphClientCaPath'>,
  requireClientCertificates = false,
): ServerTls | undefined {
  if (!config.tls) return undefined;
  return {
    cert: readFileSync(config.tls.certPath),
    key: readFileSync(config.tls.keyPath),
    clientCa:
      requireClientCertificates && config.subgraphClientCaPath
        ? readFileSync(config.subgraphClientCaPath)
        : undefined,
  };
}

/** The gateway's side of TLS to the subgraphs, from SUBGRAPH_TLS_CA/CERT/KEY. */
export function subgraphClientTlsFrom(config: {
  gateway: Pick<GatewayConfig['gateway'], 'subgraphTls'>;
}): ClientTls | undefined {
  const { caPath, certPath, keyPath } = config.gateway.subgraphTls;
  if (!caPath && !certPath) return undefined;
  return {
    ca: caPath ? readFileSync(caPath) : undefined,
    cert: certPath ? readFileSync(certPath) : undefined,
    key: keyPath ? readFileSync(keyPath) : undefined,
  };
}

import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway/dist/datasources/types.js';
import type { Fetcher } from '@apollo/utils.fetcher';
import { Agent, fetch } from 'undici';
import type { ClientTls } from '../server/http/tls.ts';
import type { GatewayContext } from './context.ts';

export interface SubgraphDataSourceOptions {
  name: string;
  url: string;
  /** Shared keep-alive pool for all subgraph calls. */
  agent: Agent;
  /** Deadline for one subgraph call, so a hung subgraph cannot hold a client request open. */
  timeoutMs: number;
}

/** `tls` adds a trust anchor for the subgraphs' certificates and, for mTLS, the certificate the gateway presents. */
export function createSubgraphAgent(maxSocketsPerOrigin: number, tls?: ClientTls): Agent {
  return new Agent({
    connections: maxSocketsPerOrigin,
    keepAliveTimeout: 30_000,
    pipelining: 1,
    ...(tls ? { connect: { ca: tls.ca, cert: tls.cert, key: tls.key } } : {}),
  });
}

/**
 * Every call from the gateway to a subgraph goes through here: it forwards
 * the caller's verified token (subgraphs verify it again and take the tenant
 * from nothing else) over a pooled keep-alive connection with a deadline.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  readonly name: string;

  constructor({ name, url, agent, timeoutMs }: SubgraphDataSourceOptions) {
    const fetcher: Fetcher = (input, init) =>
      fetch(input, {
        method: init?.method,
        headers: init?.headers as Record<string, string> | undefined,
        body: init?.body as string | undefined,
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
      });
    super({ url, fetcher });
    this.name = name;
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext>) {
    const principal = 'principal' in options.context ? options.context.principal : undefined;
    if (principal) options.request.http?.headers.set('authorization', `Bearer ${principal.token}`);
  }
}

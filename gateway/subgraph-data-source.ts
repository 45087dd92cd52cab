import { AsyncLocalStorage } from 'node:async_hooks';
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway/dist/datasources/types.js';
import type { Fetcher } from '@apollo/utils.fetcher';
import { Agent, fetch } from 'undici';
import type { ClientTls } from '../server/http/tls.ts';
import type { DependencyPolicy } from '../server/resilience/policy.ts';
import type { GatewayContext } from './context.ts';

export interface SubgraphDataSourceOptions {
  name: string;
  url: string;
  /** Shared keep-alive pool for all subgraph calls. */
  agent: Agent;
  /**
   * Deadline for one subgraph call, retries included, so a hung subgraph
   * cannot hold a client request open. Each attempt also has the policy's
   * own (shorter) timeout.
   */
  timeoutMs: number;
  /** The `subgraph:<name>` policy: breaker, attempt timeout, retries. */
  policy: DependencyPolicy;
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

/** A subgraph that answered 4xx was reached; only no answer, a timeout or 5xx counts against its breaker. */
function isAnswered(error: unknown): boolean {
  const status = (error as { extensions?: { response?: { status?: number } } })?.extensions?.response?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Every call from the gateway to a subgraph goes through here: it forwards
 * the caller's verified token (subgraphs verify it again and take the tenant
 * from nothing else) over a pooled keep-alive connection, under the
 * subgraph's breaker, with a deadline.
 *
 * Only queries are retried. A mutation that timed out may have committed, so
 * retrying it could write twice; its failure goes back to the client.
 * A failed or refused call becomes SUBGRAPH_UNAVAILABLE, which the gateway
 * reports on the affected paths while returning what the other subgraph gave.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  readonly name: string;
  readonly #policy: DependencyPolicy;
  readonly #timeoutMs: number;
  /** The current attempt's abort signal, for the fetcher, which Apollo calls without one. */
  readonly #attemptSignal: AsyncLocalStorage<AbortSignal>;

  constructor({ name, url, agent, timeoutMs, policy }: SubgraphDataSourceOptions) {
    const attemptSignal = new AsyncLocalStorage<AbortSignal>();
    const fetcher: Fetcher = (input, init) =>
      fetch(input, {
        method: init?.method,
        headers: init?.headers as Record<string, string> | undefined,
        body: init?.body as string | undefined,
        dispatcher: agent,
        signal: attemptSignal.getStore() ?? AbortSignal.timeout(timeoutMs),
      });
    super({ url, fetcher });
    this.name = name;
    this.#policy = policy;
    this.#timeoutMs = timeoutMs;
    this.#attemptSignal = attemptSignal;
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext>) {
    const principal = 'principal' in options.context ? options.context.principal : undefined;
    if (principal) options.request.http?.headers.set('authorization', `Bearer ${principal.token}`);
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>) {
    const isMutation = /^\s*mutation\b/.test(options.request.query ?? '');
    try {
      return await this.#policy.run(
        (signal) => this.#attemptSignal.run(signal, () => super.process(options)),
        {
          idempotent: !isMutation,
          operation: isMutation ? 'mutation' : 'query',
          isExpected: isAnswered,
          signal: AbortSignal.timeout(this.#timeoutMs),
        },
      );
    } catch (error) {
      if (isAnswered(error)) throw error;
      return this.#unavailable(options);
    }
  }

  /**
   * Answers as the subgraph would have with an error per affected field: for
   * an entity fetch, one error per representation at `_entities.<i>`, which
   * the gateway maps onto the client's paths (`search.hits.3.document`),
   * while the data the other subgraph gave is returned alongside.
   */
  #unavailable(options: GraphQLDataSourceProcessOptions<GatewayContext>) {
    const message = `The ${this.name} service is temporarily unavailable`;
    const extensions = { code: 'SUBGRAPH_UNAVAILABLE' };
    const representations = options.request.variables?.representations;
    if (Array.isArray(representations) && representations.length > 0) {
      return {
        errors: representations.map((_, position) => ({
          message,
          extensions,
          path: ['_entities', position],
        })),
      };
    }
    return { errors: [{ message, extensions }] };
  }
}

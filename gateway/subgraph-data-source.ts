import type {
  GraphQLDataSource,
  GraphQLDataSourceProcessOptions,
} from '@apollo/gateway/dist/datasources/types.js';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import { Agent } from 'undici';
import { defaultMaxResponseBytes } from '../server/http/http-server.ts';
import type { ClientTls } from '../server/http/tls.ts';
import { currentRequestId, requestIdHeader } from '../server/observability/request-id.ts';
import { type DependencyPolicy, isDependencyUnavailable } from '../server/resilience/policy.ts';
import type { GatewayContext } from './context.ts';
import { createInflightRequests } from './inflight-requests.ts';
import { isResponseTooLarge, readAtMost } from './response-size.ts';

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
  /** Most bytes read of one answer; past it the call fails with RESPONSE_TOO_LARGE. Default 4 MiB (MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
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

/** A subgraph's HTTP error status, kept so the breaker can tell an answer (4xx) from a failure. */
function httpError(status: number, body: string): GraphQLError {
  const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : undefined;
  return new GraphQLError(`${status}: subgraph answered with an error status`, {
    extensions: { ...(code ? { code } : {}), response: { status, body } },
  });
}

/**
 * A subgraph answers 400 with coded GraphQL errors when it refuses the
 * request's input, such as a DateTime the gateway cannot check (to the
 * gateway, a custom scalar accepts anything). Those errors are the answer.
 */
function isRefusedInput(status: number, body: string): boolean {
  if (status !== 400) return false;
  try {
    const parsed = JSON.parse(body) as { errors?: unknown };
    return Array.isArray(parsed?.errors) && parsed.errors.length > 0;
  } catch {
    return false;
  }
}

/** A subgraph that answered 4xx was reached; only no answer, a timeout or 5xx counts against its breaker. */
function isAnswered(error: unknown): boolean {
  // The subgraph answered; only too much for one response.
  if (isResponseTooLarge(error)) return true;
  const status = (error as { extensions?: { response?: { status?: number } } })?.extensions?.response?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** Failures to connect: no byte of the request left, so the subgraph cannot have seen it. */
const connectFailureCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The connection could not be made: no subgraph got the request, so no backend call was made for it.
 * The only failure the gateway retries; everything else was retried, if at all, by the subgraph.
 */
function couldNotConnect(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && connectFailureCodes.has(code);
}

/** True only when the call certainly never reached the subgraph: its breaker refused it, or it could not connect. */
function wasNeverSent(error: unknown): boolean {
  if (isDependencyUnavailable(error) && error.breakerOpen) return true;
  return couldNotConnect(isDependencyUnavailable(error) ? error.cause : error);
}

/**
 * Every call from the gateway to a subgraph goes through here: it forwards
 * the caller's verified token (subgraphs verify it again and take the tenant
 * from nothing else) over a pooled keep-alive connection, under the
 * subgraph's breaker, with a deadline. A call that times out counts against
 * the calling tenant's own breaker, never the one every tenant shares.
 *
 * It posts with undici's `request()` on the shared `Agent` rather than
 * `fetch` (or Apollo's `RemoteGraphQLDataSource`, which builds node-fetch
 * `Headers` and a `Request` per call): `fetch` wraps every call in WHATWG
 * streams, a cost the gateway's profiles show on every call (docs/benchmarks.md).
 * undici reports `request()`
 * on the same diagnostics channels, so the OpenTelemetry instrumentation
 * still makes a client span and injects `traceparent`. Apollo's honouring of
 * subgraph `cache-control` headers is not reproduced: nothing in Quarry uses
 * Apollo's cache hints.
 *
 * Identical queries in flight at the same time are sent once (see
 * `createInflightRequests`). The key is the exact token and the request body
 * (query text, variables, operation name): the same caller asking the same
 * thing, so merging can never hand one tenant, or one set of scopes, another
 * caller's answer. Every waiter parses its own copy of the body, because
 * the gateway merges results into the objects it is given.
 *
 * Only queries are retried or merged, and only when the connection could not
 * be made: reads are retried once, in the subgraph next to its backend
 * (docs/caching-and-resilience.md), so a slow backend is not called again for
 * every gateway attempt. An attempt that times out closes its connection, and
 * the subgraph stops the backend call it had started. A mutation that timed
 * out may have committed, so retrying it could write twice, and two identical
 * mutations are two writes; its failure goes back to the client, which can
 * retry it safely with the mutation's idempotency key.
 * A failed or refused call becomes SUBGRAPH_UNAVAILABLE, which the gateway
 * reports on the affected paths while returning what the other subgraph gave;
 * a mutation that may have reached the subgraph (timeout, connection lost,
 * 5xx) becomes WRITE_OUTCOME_UNKNOWN instead, since it may have been applied.
 */
export class SubgraphDataSource implements GraphQLDataSource<GatewayContext> {
  readonly name: string;
  readonly #origin: string;
  readonly #path: string;
  readonly #agent: Agent;
  readonly #policy: DependencyPolicy;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #inflight = createInflightRequests<string>();

  constructor({
    name,
    url,
    agent,
    timeoutMs,
    policy,
    maxResponseBytes = defaultMaxResponseBytes,
  }: SubgraphDataSourceOptions) {
    const parsed = new URL(url);
    this.name = name;
    this.#origin = parsed.origin;
    this.#path = `${parsed.pathname}${parsed.search}`;
    this.#agent = agent;
    this.#policy = policy;
    this.#timeoutMs = timeoutMs;
    this.#maxResponseBytes = maxResponseBytes;
  }

  async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const { query, variables, operationName } = options.request;
    if (!query) throw new Error('Missing query');
    const principal = 'principal' in options.context ? options.context.principal : undefined;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (principal) headers.authorization = `Bearer ${principal.token}`;
    // The subgraph logs under the client's request id (a call shared by concurrent requests, under the first's).
    const requestId = currentRequestId();
    if (requestId) headers[requestIdHeader] = requestId;
    const body = JSON.stringify({ query, variables, operationName });
    const isMutation = /^\s*mutation\b/.test(query);
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const call = (callersGone?: AbortSignal) =>
      this.#policy.run((signal) => this.#post(headers, body, signal), {
        idempotent: !isMutation,
        retryWhen: couldNotConnect,
        stopsOnAbort: true,
        operation: isMutation ? 'mutation' : 'query',
        isExpected: isAnswered,
        signal: callersGone ? AbortSignal.any([deadline, callersGone]) : deadline,
        // A slow answer may be the tenant's own costly request: it counts against that tenant's breaker only.
        ...(principal ? { tenantId: principal.tenantId } : {}),
      });
    // A query stops once every client waiting for it has gone; a mutation is sent to the end regardless.
    const clientGone = 'clientGone' in options.context ? options.context.clientGone : undefined;
    let text: string;
    try {
      text = isMutation
        ? await call()
        : await this.#inflight.run(`${principal?.token}\n${body}`, call, clientGone);
    } catch (error) {
      if (isAnswered(error)) throw error;
      if (isMutation && !wasNeverSent(error))
        return this.#failed(
          options,
          'WRITE_OUTCOME_UNKNOWN',
          `The ${this.name} service did not answer; the mutation may or may not have been applied. Retry it with the same idempotency key`,
        );
      return this.#failed(
        options,
        'SUBGRAPH_UNAVAILABLE',
        `The ${this.name} service is temporarily unavailable`,
      );
    }
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null)
      throw new Error('Subgraph answered without a JSON object');
    const response = parsed as GatewayGraphQLResponse;
    if (response.extensions?.stale === true && 'principal' in options.context)
      options.context.servedStale = true;
    return response;
  }

  async #post(headers: Record<string, string>, body: string, signal: AbortSignal): Promise<string> {
    const response = await this.#agent.request({
      origin: this.#origin,
      path: this.#path,
      method: 'POST',
      headers,
      body,
      signal,
    });
    const text = await readAtMost(response.body, response.headers['content-length'], this.#maxResponseBytes);
    if (response.statusCode >= 400 && !isRefusedInput(response.statusCode, text))
      throw httpError(response.statusCode, text);
    return text;
  }

  /**
   * Answers as the subgraph would have with an error per affected field: for
   * an entity fetch, one error per representation at `_entities.<i>`, which
   * the gateway maps onto the client's paths (`search.hits.3.document`),
   * while the data the other subgraph gave is returned alongside.
   */
  #failed(
    options: GraphQLDataSourceProcessOptions<GatewayContext>,
    code: 'SUBGRAPH_UNAVAILABLE' | 'WRITE_OUTCOME_UNKNOWN',
    message: string,
  ): GatewayGraphQLResponse {
    const extensions = { code };
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

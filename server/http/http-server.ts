import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type ApolloServer, type BaseContext, HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import { type ErrorCode, publicErrorCodes } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { withRequestId } from '../observability/request-id.ts';
import { isTenantBusy, type TenantBulkheads } from '../resilience/tenant-bulkheads.ts';
import type { ServerTls } from './tls.ts';

export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/**
 * What a shortcut did with a request: answered it, or passed it on to Apollo,
 * with the context it was given or one it built from that.
 */
export type ShortcutOutcome<TContext> = { answered: true } | { answered: false; context?: TContext };

/**
 * Runs before Apollo on every POST of a JSON body to /graphql, with the
 * parsed body and the request's context (built from its headers, its token
 * already verified). `runInBackground` runs the same request through Apollo
 * with the given context and drops the answer (the response cache's refreshes).
 */
export type Shortcut<TContext> = (
  request: IncomingMessage,
  response: ServerResponse,
  body: unknown,
  context: TContext,
  runInBackground: (context: TContext) => Promise<void>,
) => Promise<ShortcutOutcome<TContext>>;

export interface HttpServerOptions<TContext extends BaseContext> {
  apollo: ApolloServer<TContext>;
  /**
   * Builds the per-request context; throwing a GraphQLError with `extensions.http` rejects the request.
   * `clientGone` aborts when the client closes the connection before its answer is sent.
   */
  context: (request: IncomingMessage, clientGone: AbortSignal) => Promise<TContext>;
  /** Answers some requests without Apollo (the gateway's response cache hits). */
  shortcut?: Shortcut<TContext>;
  /**
   * Called with the exact body of each complete Apollo answer, just before it
   * is sent, or once run in the background for the shortcut: what keeps it
   * (the response cache) then need not serialize the result a second time.
   */
  onAnswered?: (context: TContext, body: string) => void;
  /** Extra GET routes by exact path, such as health checks and metrics. */
  routes?: Record<string, RouteHandler>;
  /** Bodies above this are refused with 413 before they are parsed. Default 1 MiB (MAX_REQUEST_BODY_BYTES). */
  maxBodyBytes?: number;
  /** Cross-origin headers for /graphql, and the answer to preflights when it returns true (`useCors`). */
  cors?: (request: IncomingMessage, response: ServerResponse) => boolean;
  /**
   * A GraphQL response body above this is replaced by RESPONSE_TOO_LARGE.
   * Default 4 MiB: the gateway sets MAX_RESPONSE_BYTES; subgraphs keep the
   * default, so none sends the gateway more than that.
   */
  maxResponseBytes?: number;
  /**
   * Bytes of request bodies buffered at once, over all connections; a body
   * that would pass it gets 503 with retry-after. Default 64 MiB
   * (MAX_BUFFERED_BODY_BYTES).
   */
  maxBufferedBodyBytes?: number;
  /** Node's server timeouts, set rather than left to its defaults (`httpTimeouts`). */
  timeouts?: Partial<HttpTimeouts>;
  /** Serve HTTPS (and require client certificates when `clientCa` is set). Default plain HTTP. */
  tls?: ServerTls;
  /**
   * Each caller's share of this server, keyed by `callerOf` (the gateway's
   * tenant); past a share, 429 RATE_LIMITED.
   * - `executions`: its requests running through Apollo, and a short queue.
   *   Taken once the token is checked, before the body is read.
   * - `shortcuts`: with a shortcut, a small body (`smallBodyBytes`) is read
   *   and offered to it under this share instead, and takes `executions`
   *   only if the shortcut did not answer it, so a caller's cache hits do not
   *   wait behind its own slow requests.
   */
  callerBulkheads?: {
    executions: TenantBulkheads;
    shortcuts?: TenantBulkheads;
    callerOf(context: TContext): string | undefined;
  };
  logger: Logger;
}

/** 4 MiB (MAX_RESPONSE_BYTES): a full search page of long documents fits. */
export const defaultMaxResponseBytes = 4 * 1024 * 1024;

export const responseTooLargeMessage = 'The response is too large: ask for fewer items or fields';

export interface HttpTimeouts {
  /** Until a request's headers have all arrived. Default 10 s (HTTP_HEADERS_TIMEOUT_MS). */
  headersMs: number;
  /** Until the whole request, body included, has arrived. Default 30 s (HTTP_REQUEST_TIMEOUT_MS). */
  requestMs: number;
  /**
   * An idle keep-alive connection is closed after this. Default 65 s
   * (HTTP_KEEP_ALIVE_TIMEOUT_MS): longer than the 60 s idle timeout of common
   * load balancers, so the balancer, not the server, closes an idle connection.
   */
  keepAliveMs: number;
}

export const defaultHttpTimeouts: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 65_000,
};

/**
 * A body this small may be read before its caller has an execution slot:
 * while one waits for its slot, a caller's queue holds at most that many of them.
 */
export const smallBodyBytes = 16 * 1024;

function hasSmallBody(request: IncomingMessage): boolean {
  // Declared, not chunked: a chunked body's size is known only once it has been read.
  const declared = request.headers['content-length'];
  return request.method === 'POST' && declared !== undefined && Number(declared) <= smallBodyBytes;
}

/** Node checks the headers and request timeouts on this interval (its default is 30 s), so they hold closely. */
const timeoutCheckIntervalMs = 1000;

/** Applied to every response; the GraphQL API is never framed, sniffed or cached by intermediaries. */
const securityHeaders: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

/** Only sent over HTTPS: browsers ignore it on plain HTTP, and it must never pin a plain-HTTP development host. */
const hstsHeader = 'max-age=31536000; includeSubDomains';

export function sendJson(response: ServerResponse, status: number, body: unknown) {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  response.end(payload);
}

/** The parts of a request's URL the servers route on. */
export interface RequestTarget {
  pathname: string;
  search: string;
}

const graphqlTarget: Readonly<RequestTarget> = Object.freeze({ pathname: '/graphql', search: '' });

/**
 * The request's path and query, or undefined when its target is not a URL:
 * Node's parser lets some through (`http://[/graphql`), on which `new URL`
 * would throw.
 */
export function requestTarget(request: IncomingMessage): Readonly<RequestTarget> | undefined {
  // Nearly every request names exactly this: skipping the parser counts on the cache-hit path.
  if (request.url === '/graphql') return graphqlTarget;
  return URL.parse(request.url ?? '/', 'http://localhost') ?? undefined;
}

function requestFailure(
  response: ServerResponse,
  status: number,
  message: string,
  code: ErrorCode = 'BAD_REQUEST',
) {
  sendJson(response, status, { errors: [{ message, extensions: { code } }] });
}

class BodyTooLargeError extends Error {}
class BodiesInFlightError extends Error {}

/** Bytes of request bodies being buffered right now, across all connections. */
interface BodyBudget {
  inFlight: number;
  readonly max: number;
}

/**
 * Events rather than `for await`: the async iterator costs a stream wrapper
 * and a promise per chunk, which on a cache hit was a tenth of all that the
 * request allocated. Each body is held to `maxBytes`, and all bodies being
 * read together to the shared `budget`.
 */
function readBody(request: IncomingMessage, maxBytes: number, budget: BodyBudget): Promise<string> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.reject(new BodyTooLargeError());
  // A client that left while the request waited (for its context or a slot) has already closed it, and
  // a closed request emits none of the events below: waiting for them would hold the slot for good.
  if (request.destroyed) return Promise.reject(new Error('The request closed before its body was read'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      budget.inFlight -= size;
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', settle);
      request.off('close', onClose);
      if (!error) return resolve(Buffer.concat(chunks).toString('utf8'));
      // Drained, not read: the refusal is sent without waiting for the rest of the body.
      request.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      budget.inFlight += chunk.length;
      if (size > maxBytes) return settle(new BodyTooLargeError());
      if (budget.inFlight > budget.max) return settle(new BodiesInFlightError());
      chunks.push(chunk);
    };
    const onEnd = () => settle();
    // Every request closes, after its response too: the error (and its stack) is made only if unread.
    const onClose = () => settle(new Error('The request closed before its body ended'));
    request.on('data', onData);
    request.once('end', onEnd);
    // Also a client that goes away mid-body: the request then emits 'error' (aborted). 'close' as well,
    // so that however a body ends, its bytes leave the shared budget.
    request.once('error', settle);
    request.once('close', onClose);
  });
}

async function sendApolloResult(response: ServerResponse, result: HTTPGraphQLResponse) {
  for (const [name, value] of result.headers) response.setHeader(name, value);
  response.statusCode = result.status ?? 200;
  if (result.body.kind === 'complete') {
    response.end(result.body.string);
    return;
  }
  for await (const chunk of result.body.asyncIterator) response.write(chunk);
  response.end();
}

/**
 * Deeper than any request the schema can use, shallow enough that nothing
 * recursive (JSON.stringify of the variables, their coercion) overflows the
 * stack on it and fails as a server error.
 */
const maxJsonDepth = 64;

/** Walks with an explicit stack, so measuring a hostile value cannot overflow either. */
function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= maxDepth) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

/** A UTF-16 unit is at most three bytes of UTF-8, so most bodies are cleared without counting. */
function exceedsBytes(text: string, maxBytes: number): boolean {
  return text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes;
}

function toHeaderMap(request: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/**
 * A plain `node:http` integration for Apollo Server: it keeps the request
 * path short (no framework), and gives one place for body limits, security
 * headers and the non-GraphQL routes every service exposes.
 * Not `startStandaloneServer` or `expressMiddleware`: both read the whole body
 * before any hook runs, and the token must be checked and the body bounded first.
 */
export function createHttpServer<TContext extends BaseContext>(options: HttpServerOptions<TContext>): Server {
  const {
    apollo,
    context,
    shortcut,
    onAnswered,
    routes = {},
    maxBodyBytes = 1024 * 1024,
    maxResponseBytes = defaultMaxResponseBytes,
    maxBufferedBodyBytes = 64 * 1024 * 1024,
    tls,
    cors,
    callerBulkheads,
    logger,
  } = options;
  const bodyBudget: BodyBudget = { inFlight: 0, max: maxBufferedBodyBytes };
  const timeouts = { ...defaultHttpTimeouts, ...options.timeouts };
  const serverOptions = {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionsCheckingInterval: timeoutCheckIntervalMs,
  };

  async function handle(request: IncomingMessage, response: ServerResponse) {
    for (const [name, value] of Object.entries(securityHeaders)) response.setHeader(name, value);
    if (tls) response.setHeader('strict-transport-security', hstsHeader);
    const url = requestTarget(request);
    if (!url) return requestFailure(response, 400, 'Malformed request target');
    const route = routes[url.pathname];
    if (route && request.method === 'GET') return route(request, response);
    if (url.pathname !== '/graphql')
      return requestFailure(response, 404, 'Not found: GraphQL is served at /graphql');
    if (cors?.(request, response)) return;
    if (request.method !== 'GET' && request.method !== 'POST') {
      response.setHeader('allow', 'GET, POST');
      return requestFailure(response, 405, 'Only GET and POST are supported');
    }

    const { method } = request;
    const clientGone = new AbortController();
    response.once('close', () => {
      if (!response.writableFinished) clientGone.abort(new Error('The client closed the connection'));
    });
    let body: unknown;
    // Apollo on this request, for the client (below) or in the background for a shortcut.
    const runApollo = (buildContext: () => Promise<TContext>) =>
      apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method, headers: toHeaderMap(request), search: url.search, body },
        context: buildContext,
      });
    // The context is built from headers alone, so the token is checked before a byte of the body is
    // read: a caller without a valid one holds no body buffer, and Apollo refuses it as usual (the
    // observers count it) while the unread body is dropped with the connection.
    let admitted: TContext;
    try {
      admitted = await context(request, clientGone.signal);
    } catch (error) {
      if (method === 'POST') response.setHeader('connection', 'close');
      const refusal = await runApollo(() => Promise.reject(error));
      return sendApolloResult(response, refusal);
    }
    const caller = callerBulkheads?.callerOf(admitted);
    if (!callerBulkheads || caller === undefined) {
      const prepared = await prepare(admitted);
      return prepared && execute(prepared);
    }
    const { executions, shortcuts } = callerBulkheads;
    if (shortcut && shortcuts && hasSmallBody(request)) {
      const prepared = await withinShare(shortcuts, caller, () => prepare(admitted));
      return prepared && withinShare(executions, caller, () => execute(prepared));
    }
    // Taken before the body is read, so a caller's queued requests hold no body buffer either.
    return withinShare(executions, caller, async () => {
      const prepared = await prepare(admitted);
      return prepared && execute(prepared);
    });

    /** `fn` within the caller's share of `bulkheads`, or the refusal sent; undefined when there is no one to answer. */
    async function withinShare<T>(
      bulkheads: TenantBulkheads,
      tenant: string,
      fn: () => Promise<T>,
    ): Promise<T | undefined> {
      let started = false;
      try {
        return await bulkheads.run(
          tenant,
          () => {
            started = true;
            return fn();
          },
          clientGone.signal,
        );
      } catch (error) {
        // Left while it waited for a slot: there is no one to answer.
        if (!started && clientGone.signal.aborted) return undefined;
        if (started || !isTenantBusy(error)) throw error;
        response.setHeader('retry-after', '1');
        if (method === 'POST') response.setHeader('connection', 'close');
        sendJson(response, publicErrorCodes.RATE_LIMITED, {
          errors: [
            {
              message: 'Too many requests in flight for this tenant; retry shortly',
              extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 },
            },
          ],
        });
        return undefined;
      }
    }

    /**
     * Reads and parses the body, and offers it to the shortcut: the context to
     * run Apollo with, or undefined when the request is already answered.
     */
    async function prepare(admittedContext: TContext): Promise<TContext | undefined> {
      if (request.method !== 'POST') return admittedContext;
      let text: string;
      try {
        text = await readBody(request, maxBodyBytes, bodyBudget);
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          requestFailure(response, 413, 'Request body is too large');
          return undefined;
        }
        if (error instanceof BodiesInFlightError) {
          response.setHeader('retry-after', '1');
          response.setHeader('connection', 'close');
          requestFailure(
            response,
            publicErrorCodes.SERVER_BUSY,
            'Too many request bodies in flight; retry shortly',
            'SERVER_BUSY',
          );
          return undefined;
        }
        // The client went away mid-body: there is no one to answer, and nothing went wrong here.
        if (request.destroyed) return undefined;
        throw error;
      }
      if (!(request.headers['content-type'] ?? '').includes('application/json')) {
        body = text;
        return admittedContext;
      }
      try {
        body = JSON.parse(text);
      } catch {
        requestFailure(response, 400, 'Request body is not valid JSON');
        return undefined;
      }
      if (nestedDeeperThan(body, maxJsonDepth)) {
        requestFailure(response, 400, 'Request body is nested too deeply');
        return undefined;
      }
      if (!shortcut) return admittedContext;
      const runInBackground = async (backgroundContext: TContext) => {
        const result = await runApollo(async () => backgroundContext);
        if (result.body.kind === 'complete') onAnswered?.(backgroundContext, result.body.string);
      };
      const outcome = await shortcut(request, response, body, admittedContext, runInBackground);
      if (outcome.answered) return undefined;
      return outcome.context ?? admittedContext;
    }

    async function execute(prepared: TContext): Promise<void> {
      const result = await runApollo(() => Promise.resolve(prepared));
      if (result.body.kind === 'complete' && exceedsBytes(result.body.string, maxResponseBytes)) {
        return sendJson(response, publicErrorCodes.RESPONSE_TOO_LARGE, {
          errors: [{ message: responseTooLargeMessage, extensions: { code: 'RESPONSE_TOO_LARGE' } }],
        });
      }
      // Before sending: a client that asks again as soon as it is answered finds what was kept.
      if (result.body.kind === 'complete') onAnswered?.(prepared, result.body.string);
      await sendApolloResult(response, result);
    }
  }

  const listener = (request: IncomingMessage, response: ServerResponse) =>
    withRequestId(request, response, () =>
      handle(request, response).catch((error: unknown) => {
        logger.error({ err: error }, 'unhandled HTTP error');
        if (!response.headersSent)
          sendJson(response, 500, {
            errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
          });
        else response.destroy();
      }),
    );
  if (!tls) return createServer(serverOptions, listener);
  return createHttpsServer(
    {
      ...serverOptions,
      cert: tls.cert,
      key: tls.key,
      ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
    listener,
  );
}

export interface ListeningServer {
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

export async function listen(
  server: Server,
  port: number,
  host: string,
  path = '/graphql',
): Promise<ListeningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  const scheme = server instanceof HttpsServer ? 'https' : 'http';
  return {
    url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${actualPort}${path}`,
    port: actualPort,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const forceTimer = setTimeout(() => server.closeAllConnections(), graceMs);
        forceTimer.unref();
        server.close(() => {
          clearTimeout(forceTimer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

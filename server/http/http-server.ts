import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import type { Logger } from '../logger.ts';
import { withRequestId } from '../observability/request-id.ts';
import type { ServerTls } from './tls.ts';

export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/**
 * What a shortcut did with a request: answered it, or passed it on to Apollo,
 * with the context it already built (so the token is not verified twice).
 */
export type ShortcutOutcome<TContext> = { answered: true } | { answered: false; context?: TContext };

/**
 * Runs before Apollo on every POST of a JSON body to /graphql, with the
 * parsed body. `runInBackground` runs the same request through Apollo with
 * the given context and drops the answer (the response cache's refreshes).
 */
export type Shortcut<TContext> = (
  request: IncomingMessage,
  response: ServerResponse,
  body: unknown,
  runInBackground: (context: TContext) => Promise<void>,
) => Promise<ShortcutOutcome<TContext>>;

export interface HttpServerOptions<TContext extends BaseContext> {
  apollo: ApolloServer<TContext>;
  /** Builds the per-request context; throwing a GraphQLError with `extensions.http` rejects the request. */
  context: (request: IncomingMessage) => Promise<TContext>;
  /** Answers some requests without Apollo (the gateway's response cache hits). */
  shortcut?: Shortcut<TContext>;
  /** Extra GET routes by exact path, such as health checks and metrics. */
  routes?: Record<string, RouteHandler>;
  /** Bodies above this are refused with 413 before they are parsed. Default 1 MiB (MAX_REQUEST_BODY_BYTES). */
  maxBodyBytes?: number;
  /** Serve HTTPS (and require client certificates when `clientCa` is set). Default plain HTTP. */
  tls?: ServerTls;
  logger: Logger;
}

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

/**
 * The request's URL, or undefined when its target is not one: Node's parser
 * lets some through (`http://[/graphql`), on which `new URL` would throw.
 */
export function requestUrl(request: IncomingMessage): URL | undefined {
  return URL.parse(request.url ?? '/', 'http://localhost') ?? undefined;
}

function requestFailure(response: ServerResponse, status: number, message: string) {
  sendJson(response, status, { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
}

class BodyTooLargeError extends Error {}

/**
 * Events rather than `for await`: the async iterator costs a stream wrapper
 * and a promise per chunk, which on a cache hit was a tenth of all that the
 * request allocated.
 */
function readBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.reject(new BodyTooLargeError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      request.off('data', onData);
      // Drained, not read: the 413 is sent without waiting for the rest of the body.
      request.resume();
      reject(new BodyTooLargeError());
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // Also a client that goes away mid-body: the request then emits 'error' (aborted).
    request.once('error', reject);
  });
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
 */
export function createHttpServer<TContext extends BaseContext>(options: HttpServerOptions<TContext>): Server {
  const { apollo, context, shortcut, routes = {}, maxBodyBytes = 1024 * 1024, tls, logger } = options;

  async function handle(request: IncomingMessage, response: ServerResponse) {
    for (const [name, value] of Object.entries(securityHeaders)) response.setHeader(name, value);
    if (tls) response.setHeader('strict-transport-security', hstsHeader);
    const url = requestUrl(request);
    if (!url) return requestFailure(response, 400, 'Malformed request target');
    const route = routes[url.pathname];
    if (route && request.method === 'GET') return route(request, response);
    if (url.pathname !== '/graphql')
      return requestFailure(response, 404, 'Not found: GraphQL is served at /graphql');
    if (request.method !== 'GET' && request.method !== 'POST') {
      response.setHeader('allow', 'GET, POST');
      return requestFailure(response, 405, 'Only GET and POST are supported');
    }

    const { method } = request;
    let body: unknown;
    let prepared: TContext | undefined;
    // Apollo on this request, for the client (below) or in the background for a shortcut.
    const runApollo = (buildContext: () => Promise<TContext>) =>
      apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method, headers: toHeaderMap(request), search: url.search, body },
        context: buildContext,
      });
    if (request.method === 'POST') {
      let text: string;
      try {
        text = await readBody(request, maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLargeError)
          return requestFailure(response, 413, 'Request body is too large');
        // The client went away mid-body: there is no one to answer, and nothing went wrong here.
        if (request.destroyed) return;
        throw error;
      }
      if ((request.headers['content-type'] ?? '').includes('application/json')) {
        try {
          body = JSON.parse(text);
        } catch {
          return requestFailure(response, 400, 'Request body is not valid JSON');
        }
        if (shortcut) {
          const runInBackground = async (backgroundContext: TContext) => {
            await runApollo(async () => backgroundContext);
          };
          const outcome = await shortcut(request, response, body, runInBackground);
          if (outcome.answered) return;
          prepared = outcome.context;
        }
      } else {
        body = text;
      }
    }

    const result = await runApollo(() => (prepared ? Promise.resolve(prepared) : context(request)));
    for (const [name, value] of result.headers) response.setHeader(name, value);
    response.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') {
      response.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) response.write(chunk);
    response.end();
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
  if (!tls) return createServer({ keepAliveTimeout: 65_000 }, listener);
  return createHttpsServer(
    {
      keepAliveTimeout: 65_000,
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

import { createServer } from 'node:http';
import type { Logger } from '../logger.ts';
import { type ListeningServer, listen, type RouteHandler, requestTarget, sendJson } from './http-server.ts';

/**
 * An HTTP server with only GET routes (health, metrics), for processes that
 * serve no GraphQL, such as the indexer.
 */
export function startRouteServer(options: {
  routes: Record<string, RouteHandler>;
  port: number;
  host: string;
  logger: Logger;
}): Promise<ListeningServer> {
  const server = createServer((request, response) => {
    const url = requestTarget(request);
    if (!url) return sendJson(response, 400, { error: 'malformed request target' });
    const route = options.routes[url.pathname];
    if (!route || request.method !== 'GET') return sendJson(response, 404, { error: 'not found' });
    // Through a promise, so a route that throws at once answers 500 instead of taking the process down.
    Promise.resolve(request)
      .then(() => route(request, response))
      .catch((error: unknown) => {
        options.logger.error({ err: error }, 'route failed');
        if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
      });
  });
  return listen(server, options.port, options.host, '');
}

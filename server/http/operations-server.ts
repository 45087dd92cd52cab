import type { Logger } from '../logger.ts';
import { type RouteHandler, sendJson } from './http-server.ts';
import { isLoopbackPeer } from './loopback.ts';
import { startRouteServer } from './route-server.ts';

/** Where a service serves its metrics apart from its clients (METRICS_PORT, METRICS_HOST). */
export interface OperationsListener {
  port: number;
  host: string;
}

export interface OperationsRoutes {
  /** The routes for the client port. */
  clientRoutes: Record<string, RouteHandler>;
  /** The operations port's URL, when there is one. */
  url?: string;
  stop(): Promise<void>;
}

/**
 * Splits a service's GET routes between its client port and its operations
 * port. With an operations port, `/metrics` is served there only, so no
 * client can read tenants' traffic, and the health routes are served there
 * too, as plain HTTP for probes that cannot present the client certificate
 * mutual TLS asks for. Without one, both stay on the client port, and
 * `/metrics` answers only callers on this machine (a local Prometheus, the
 * benchmark): every tenant's traffic is in it.
 */
export async function splitOperationsRoutes(options: {
  health: Record<string, RouteHandler>;
  metrics: Record<string, RouteHandler>;
  listener: OperationsListener | undefined;
  logger: Logger;
}): Promise<OperationsRoutes> {
  const { health, metrics, listener, logger } = options;
  if (!listener) return { clientRoutes: { ...health, ...loopbackOnly(metrics) }, stop: async () => {} };
  const server = await startRouteServer({ routes: { ...health, ...metrics }, ...listener, logger });
  return { clientRoutes: health, url: server.url, stop: () => server.close() };
}

function loopbackOnly(routes: Record<string, RouteHandler>): Record<string, RouteHandler> {
  return Object.fromEntries(
    Object.entries(routes).map(([path, handler]) => [
      path,
      (request, response) =>
        isLoopbackPeer(request.socket.remoteAddress)
          ? handler(request, response)
          : sendJson(response, 404, { error: 'Not found' }),
    ]),
  );
}

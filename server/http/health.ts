import type { RouteHandler } from './http-server.ts';
import { sendJson } from './http-server.ts';

export interface DependencyHealth {
  /** Whether this service can serve without the dependency; an optional one never makes it unready. */
  required: boolean;
  check(): Promise<{ ok: boolean; detail?: Record<string, unknown> }>;
}

/**
 * `/health/live` answers while the process runs; `/health/ready` reports each
 * dependency and is 503 only when a required one is down.
 */
export function healthRoutes(
  dependencies: Record<string, DependencyHealth> = {},
): Record<string, RouteHandler> {
  return {
    '/health/live': (_request, response) => sendJson(response, 200, { status: 'live' }),
    '/health/ready': async (_request, response) => {
      const entries = await Promise.all(
        Object.entries(dependencies).map(async ([name, dependency]) => {
          const result = await dependency.check().catch(() => ({ ok: false }));
          return [name, { ...result, required: dependency.required }] as const;
        }),
      );
      const ready = entries.every(([, state]) => state.ok || !state.required);
      sendJson(response, ready ? 200 : 503, {
        status: ready ? 'ready' : 'unready',
        dependencies: Object.fromEntries(entries),
      });
    },
  };
}

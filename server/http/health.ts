import type { OpenedCache } from '../cache/index.ts';
import type { Resilience } from '../resilience/policy.ts';
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

/**
 * A dependency as its breaker sees it: ready unless the breaker is open (or
 * isolated). It costs no backend call, so readiness probes never add load
 * to a struggling dependency; the breaker already knows how calls are going.
 */
export function breakerHealth(
  resilience: Resilience,
  dependency: string,
  required: boolean,
  detail: () => Record<string, unknown> = () => ({}),
): DependencyHealth {
  return {
    required,
    async check() {
      const breaker = resilience.policy(dependency).state();
      return { ok: breaker !== 'open' && breaker !== 'isolated', detail: { breaker, ...detail() } };
    },
  };
}

/**
 * Redis is never required: without it every service serves from its
 * backends, uncached. The check pings through the `redis` policy, so a
 * readiness probe also serves as the breaker's trial call and the reported
 * state follows Redis even when no request has needed it lately. A PING is
 * the cheapest command there is, unlike a call to a struggling database.
 */
export function redisHealth(
  resilience: Resilience,
  { redis, clientTracking }: Pick<OpenedCache, 'redis' | 'clientTracking'>,
): DependencyHealth {
  if (!redis) return { required: false, check: async () => ({ ok: true, detail: { adapter: 'memory' } }) };
  const policy = resilience.policy('redis');
  return {
    required: false,
    async check() {
      const ok = await policy
        .run(() => redis.ping(), { idempotent: false, operation: 'ping' })
        .then(() => true)
        .catch(() => false);
      const tracking = clientTracking ? { clientTracking: clientTracking() } : {};
      return { ok, detail: { breaker: policy.state(), connection: redis.status, ...tracking } };
    },
  };
}

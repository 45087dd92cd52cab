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
 * isolated). A closed breaker costs no backend call, so readiness probes
 * never add load to a struggling dependency; the breaker already knows how
 * calls are going.
 *
 * A breaker only half-opens on a call, though, and an unready instance gets
 * no traffic: for a required dependency it would stay open, and the service
 * unready, for good. So while the breaker is open, the probe makes `trial`
 * through the policy, which refuses it at once until the breaker's trial is
 * due and then makes it the trial: one cheap call per half-open period.
 */
export function breakerHealth(
  resilience: Resilience,
  dependency: string,
  required: boolean,
  trial?: () => Promise<unknown>,
): DependencyHealth {
  const policy = resilience.policy(dependency);
  return {
    required,
    async check() {
      if (trial && policy.state() === 'open') {
        await policy.run(trial, { idempotent: false, operation: 'readiness-trial' }).catch(() => {});
      }
      const breaker = policy.state();
      return { ok: breaker !== 'open' && breaker !== 'isolated', detail: { breaker } };
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

import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { Principal } from '../../server/auth/jwt-verifier.ts';
import { tenantKey } from '../../server/cache/cache.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';
import type {
  RateLimit,
  RateLimitDecision,
  RateLimitStore,
} from '../../server/rate-limit/rate-limit-store.ts';
import type { AdmissionCheck } from './admission.ts';

export interface RateLimitOptions {
  /** Where buckets live: Redis with the in-memory fallback, or memory alone without REDIS_URL. */
  store: RateLimitStore;
  /** Limits per tier; the token's `tier` claim picks one, and unknown tiers get `standard`. */
  tiers: Record<string, RateLimit> & { standard: RateLimit };
  /** Default: nowhere. */
  events?: OperationalEvents;
  /** Refusals answered late, per replica. Default: none (every refusal answered at once). */
  hold?: RefusalHold;
}

/**
 * How long a refusal is held before it is answered, and for how many of a
 * tenant's requests at once. A client that ignores `retry-after` and sends
 * again as soon as it is answered then gets at most `perTenant` answers per
 * `ms` from this replica (fewer with fewer gateway slots), instead of keeping
 * the gateway busy refusing it; past `perTenant`, refusals are answered at
 * once, so held requests stay bounded.
 */
export interface RefusalHold {
  ms: number;
  perTenant: number;
}

/**
 * Holds each refusal for the hold time or until the `retry-after` it names,
 * whichever is sooner, or until its client leaves: a held request keeps its
 * tenant's gateway slot, which nobody waiting for the answer should cost.
 */
function holdRefusals({ ms, perTenant }: RefusalHold) {
  const held = new Map<string, number>();
  return async (tenantId: string, retryAfterSeconds: number, clientGone?: AbortSignal): Promise<void> => {
    const holding = held.get(tenantId) ?? 0;
    if (ms === 0 || holding >= perTenant || clientGone?.aborted) return;
    held.set(tenantId, holding + 1);
    try {
      const holdMs = Math.min(ms, retryAfterSeconds * 1000);
      // The global timer rather than timers/promises' abortable one, which test clocks do not drive.
      await new Promise<void>((resolve) => {
        const end = () => {
          clearTimeout(timer);
          clientGone?.removeEventListener('abort', end);
          resolve();
        };
        const timer = setTimeout(end, holdMs);
        clientGone?.addEventListener('abort', end, { once: true });
      });
    } finally {
      const left = (held.get(tenantId) ?? 1) - 1;
      if (left === 0) held.delete(tenantId);
      else held.set(tenantId, left);
    }
  };
}

/** Takes one token from the caller's tenant bucket. */
export function takeToken(
  { store, tiers }: Pick<RateLimitOptions, 'store' | 'tiers'>,
  { tenantId, tier }: Pick<Principal, 'tenantId' | 'tier'>,
): Promise<RateLimitDecision> {
  // Own properties only: a claim such as `constructor` must not find Object.prototype's.
  const limit = Object.hasOwn(tiers, tier) ? tiers[tier] : undefined;
  return store.consume(tenantKey(tenantId, 'rate'), limit ?? tiers.standard);
}

/**
 * One token per operation from the tenant's bucket, before any subgraph is
 * called. Over the limit, the request fails with RATE_LIMITED, HTTP 429, a
 * `retry-after` header and `extensions.retryAfterSeconds`, after the hold. Malformed requests
 * fail parsing or validation before this stage and spend nothing.
 */
export function rateLimit({
  store,
  tiers,
  events = noOperationalEvents,
  hold = { ms: 0, perTenant: 0 },
}: RateLimitOptions): AdmissionCheck {
  const held = holdRefusals(hold);
  return {
    name: 'rate-limit',
    stage: 'operation',
    async refusal({ principal, clientGone }) {
      const decision = await takeToken({ store, tiers }, principal);
      if (decision.allowed) return undefined;
      events.rateLimited(principal.tenantId);
      await held(principal.tenantId, decision.retryAfterSeconds, clientGone);
      // Typed loosely on purpose: Apollo reads `http.headers` as a HeaderMap, while graphql-yoga
      // (installed for the benchmark's Hive peer) augments the same extension with another shape.
      const extensions: Record<string, unknown> = {
        code: 'RATE_LIMITED',
        retryAfterSeconds: decision.retryAfterSeconds,
        http: {
          status: 429,
          headers: new HeaderMap([['retry-after', String(decision.retryAfterSeconds)]]),
        },
      };
      return new GraphQLError(`Rate limit exceeded; retry in ${decision.retryAfterSeconds}s`, { extensions });
    },
  };
}

import type { Cache } from './cache.ts';

export interface GenerationBumps {
  /**
   * Bumps each tenant's generation. A bump that fails (Redis unreachable) is
   * kept and retried every `retryMs` until it lands, so entries cached
   * before a write cannot outlive the outage by more than that. Never throws.
   */
  bump(tenantIds: Iterable<string>): Promise<void>;
  /** Whether a bump of the tenant's generation is still owed: its cached entries may predate a write. */
  owed(tenantId: string): boolean;
  /** Stops retrying, when the cache is being closed. */
  stop(): void;
}

export interface GenerationBumpsOptions {
  cache: Cache;
  /** The generation counter of a tenant (`searchGenerationKey`, `responseGenerationKey`). */
  key: (tenantId: string) => string;
  /** Default 1000 ms. */
  retryMs?: number;
}

export function createGenerationBumps({
  cache,
  key,
  retryMs = 1000,
}: GenerationBumpsOptions): GenerationBumps {
  const owed = new Set<string>();
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function bump(tenantIds: Iterable<string>) {
    for (const tenantId of tenantIds) owed.add(tenantId);
    for (const tenantId of [...owed]) {
      try {
        await cache.increment(key(tenantId));
        owed.delete(tenantId);
      } catch {
        // Kept, and retried below.
      }
    }
    if (owed.size > 0 && !retryTimer && !stopped) {
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        void bump([]);
      }, retryMs);
      retryTimer.unref();
    }
  }

  return {
    bump,
    owed: (tenantId) => owed.has(tenantId),
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
    },
  };
}

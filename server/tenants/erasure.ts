import type { Redis } from 'ioredis';
import { tenantKey } from '../cache/cache.ts';
import type { Logger } from '../logger.ts';

/** A store that can remove everything it keeps of one tenant. Idempotent: erasing an absent tenant does nothing. */
export interface TenantErasure {
  eraseTenant(tenantId: string): Promise<void>;
}

export interface EraseTenantOptions {
  tenantId: string;
  /** Who asked: an operator's name, or the subject of the token that called the admin API. */
  requestedBy: string;
  /** The documents store: documents, tombstones, outbox entries and usage. */
  documents: TenantErasure;
  /** The search index: its documents and its versions. */
  search: TenantErasure;
  /** Absent without REDIS_URL; in-process caches then expire within their TTLs. */
  redis?: Redis;
  logger: Logger;
  /**
   * Pause before the search index is erased a second time, so that an indexer batch pulled from the
   * outbox before the documents went (and applied after the first pass) is removed too.
   */
  settleMs: number;
}

/** Keys per SCAN and per UNLINK: small enough that neither blocks Redis for other tenants. */
const redisBatch = 500;

/** Glob syntax in a Redis MATCH pattern; encodeURIComponent leaves `*` alone, so it must be escaped. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, (character) => `\\${character}`);

/** Every Redis key of the tenant (cache, generations, rate-limit buckets, APQ): they all start with its prefix. */
async function eraseRedisKeys(redis: Redis, tenantId: string): Promise<number> {
  const pattern = `${escapeGlob(tenantKey(tenantId))}:*`;
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', redisBatch);
    cursor = next;
    if (keys.length > 0) removed += await redis.unlink(...keys);
  } while (cursor !== '0');
  return removed;
}

/**
 * Removes a tenant from every place Quarry keeps data, in an order that a
 * crash cannot undo: the documents and their outbox first (so nothing new
 * reaches the index), then the search index, then the caches. Each step is
 * idempotent, so running it again after a crash finishes the job. Other
 * tenants' data is touched by none of the steps. The audit line names who
 * asked and when, never document content.
 */
export async function eraseTenant(options: EraseTenantOptions): Promise<void> {
  const { tenantId, requestedBy, documents, search, redis, logger, settleMs } = options;
  const startedAt = new Date();
  logger.info({ audit: 'tenant-erasure', tenantId, requestedBy, startedAt }, 'tenant erasure started');
  await documents.eraseTenant(tenantId);
  await search.eraseTenant(tenantId);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  await search.eraseTenant(tenantId);
  const redisKeys = redis ? await eraseRedisKeys(redis, tenantId) : 0;
  logger.info(
    { audit: 'tenant-erasure', tenantId, requestedBy, startedAt, finishedAt: new Date(), redisKeys },
    'tenant erased',
  );
}

/** Erasures started by the admin API: they outlast the request that asked, which gets an answer at once. */
export interface ErasureJobs {
  /** Starts erasing the tenant unless an erasure of it is already running here. */
  start(tenantId: string, requestedBy: string): void;
  /** Waits for the running erasures, for a drain. */
  settled(): Promise<void>;
}

export function createErasureJobs(
  erase: (tenantId: string, requestedBy: string) => Promise<void>,
  logger: Logger,
): ErasureJobs {
  const running = new Map<string, Promise<void>>();
  return {
    start(tenantId, requestedBy) {
      if (running.has(tenantId)) return;
      const job = erase(tenantId, requestedBy)
        // Idempotent, so the operator's remedy for a failure is to ask again (or run the CLI).
        .catch((error: unknown) =>
          logger.error(
            { err: error, audit: 'tenant-erasure', tenantId, requestedBy },
            'tenant erasure failed',
          ),
        )
        .finally(() => running.delete(tenantId));
      running.set(tenantId, job);
    },
    async settled() {
      await Promise.all(running.values());
    },
  };
}

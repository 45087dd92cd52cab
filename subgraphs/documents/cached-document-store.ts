import { type Cache, tenantKey } from '../../server/cache/cache.ts';
import type { DocumentRecord } from '../../server/documents/model.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';
import { type DocumentStore, isStoreAnswer } from './document-store.ts';

export interface DocumentCacheOptions {
  cache: Cache;
  /**
   * How long a cached document lives. Default 300 s. It bounds the one race
   * invalidation cannot close: a read that fetched the old version before a
   * write, and stores it just after the write's invalidation.
   */
  ttlSeconds?: number;
  /**
   * How long a write that failed (timed out, connection lost) may still
   * commit. Until then this process reads the document around the cache,
   * and then deletes its entry again, in case another replica cached the
   * version before the write. Default 125 s: MongoDB's `withTransaction`
   * retries a transient failure for up to 120 s, long after the caller
   * stopped waiting.
   */
  uncertainWriteMs?: number;
  events?: OperationalEvents;
}

const documentKey = (tenantId: string, id: string) => tenantKey(tenantId, 'document', id);

function revive(text: string): DocumentRecord {
  const record = JSON.parse(text) as DocumentRecord;
  return { ...record, createdAt: new Date(record.createdAt), updatedAt: new Date(record.updatedAt) };
}

/**
 * Read-through cache for documents by id, under tenant-scoped keys. Every
 * write deletes the written document's entry once it commits, so a client
 * reads its own write. Absent documents are not cached, so a create is
 * visible at once. When an invalidation fails (Redis down), it is kept and
 * retried before the next read, so a partition does not leave a stale entry.
 */
export function cachedDocumentStore(store: DocumentStore, options: DocumentCacheOptions): DocumentStore {
  const { cache, ttlSeconds = 300, uncertainWriteMs = 125_000, events = noOperationalEvents } = options;
  const pendingInvalidations = new Set<string>();
  /** Entries of writes that may still commit, read around the cache until they no longer can. */
  const settling = new Map<string, NodeJS.Timeout>();

  async function invalidate(keys: string[]) {
    for (const key of keys) pendingInvalidations.add(key);
    const batch = [...pendingInvalidations];
    try {
      await cache.delete(batch);
      for (const key of batch) pendingInvalidations.delete(key);
    } catch {
      // Kept in pendingInvalidations; retried before the next read and write.
    }
  }

  /** Deletes the entry now, because the write may have committed, and again once it can no longer commit. */
  async function invalidateUncertain(key: string) {
    clearTimeout(settling.get(key));
    const timer = setTimeout(() => {
      settling.delete(key);
      void invalidate([key]);
    }, uncertainWriteMs);
    timer.unref();
    settling.set(key, timer);
    await invalidate([key]);
  }

  /** Runs a write, then deletes its entry: once if the outcome is known (committed, or refused by the store). */
  async function write<T>(key: string, run: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await run();
    } catch (error) {
      if (isStoreAnswer(error)) await invalidate([key]);
      else await invalidateUncertain(key);
      throw error;
    }
    await invalidate([key]);
    return result;
  }

  async function findByIds(tenantId: string, ids: readonly string[]) {
    if (pendingInvalidations.size > 0) await invalidate([]);
    const keys = ids.map((id) => documentKey(tenantId, id));
    let cached: (string | undefined)[];
    // A cache with invalidations still owed could answer stale: read around it until they are done.
    if (pendingInvalidations.size > 0) {
      cached = keys.map(() => undefined);
      events.cacheLookup('documents', 'error');
    } else {
      try {
        cached = await cache.getMany(keys);
      } catch {
        cached = keys.map(() => undefined);
        events.cacheLookup('documents', 'error');
      }
    }
    if (settling.size > 0)
      cached = cached.map((text, position) => (settling.has(keys[position] ?? '') ? undefined : text));
    const results: (DocumentRecord | null)[] = cached.map((text) =>
      text === undefined ? null : revive(text),
    );
    const missing = ids.filter((_, position) => cached[position] === undefined);
    for (let hits = ids.length - missing.length; hits > 0; hits--) events.cacheLookup('documents', 'hit');
    if (missing.length === 0) return results;
    for (let count = missing.length; count > 0; count--) events.cacheLookup('documents', 'miss');
    const loaded = await store.findByIds(tenantId, missing);
    const byId = new Map(missing.map((id, position) => [id, loaded[position] ?? null]));
    for (const [position, id] of ids.entries()) {
      if (cached[position] === undefined) results[position] = byId.get(id) ?? null;
    }
    for (const record of loaded) {
      if (!record) continue;
      const key = documentKey(tenantId, record.id);
      if (!settling.has(key)) cache.set(key, JSON.stringify(record), ttlSeconds).catch(() => {});
    }
    return results;
  }

  return {
    findByIds,
    async create(tenantId, document, id, writeOptions) {
      const created = await store.create(tenantId, document, id, writeOptions);
      await invalidate([documentKey(tenantId, created.id)]);
      return created;
    },
    update: (tenantId, id, patch, expectedVersion, writeOptions) =>
      write(documentKey(tenantId, id), () =>
        store.update(tenantId, id, patch, expectedVersion, writeOptions),
      ),
    delete: (tenantId, id) => write(documentKey(tenantId, id), () => store.delete(tenantId, id)),
    // Read from the store: the count moves with every write, and a quota check needs it exact.
    usage: (tenantId) => store.usage(tenantId),
    pull: (limit) => store.pull(limit),
    acknowledge: (changes) => store.acknowledge(changes),
    oldestPendingAt: () => store.oldestPendingAt(),
    close() {
      for (const timer of settling.values()) clearTimeout(timer);
      return store.close();
    },
  };
}

import { type Cache, parseVersionedValue, tenantKey } from '../../server/cache/cache.ts';
import type { DocumentRecord } from '../../server/documents/model.ts';
import { noOperationalEvents, type OperationalEvents } from '../../server/observability/events.ts';
import type { ReadOptions } from '../../server/read-options.ts';
import { type DocumentStore, isStoreAnswer } from './document-store.ts';

export interface DocumentCacheOptions {
  cache: Cache;
  /** How long a cached document lives, and how long a delete keeps older versions out. Default 300 s. */
  ttlSeconds?: number;
  /**
   * How long a write that failed (timed out, connection lost) may still
   * commit, during which no replica caches the document. Default 125 s:
   * MongoDB's `withTransaction` retries a transient failure for up to 120 s,
   * long after the caller stopped waiting.
   */
  uncertainWriteMs?: number;
  events?: OperationalEvents;
}

// A new key name: entries are versioned values now, and replicas of the unversioned kind may run beside these.
const documentKey = (tenantId: string, id: string) => tenantKey(tenantId, 'versioned-document', id);

/** The fence of a delete or of a write that may yet commit: above any version, so none passes it. */
const closedFence = Number.MAX_SAFE_INTEGER;

/** What a write leaves in the cache: a fence, an empty value that no older version may replace. */
interface Fence {
  version: number;
  ttlSeconds: number;
}

function revive(text: string): DocumentRecord {
  const record = JSON.parse(text) as DocumentRecord;
  return { ...record, createdAt: new Date(record.createdAt), updatedAt: new Date(record.updatedAt) };
}

/**
 * Read-through cache for documents by id, under tenant-scoped keys. Every
 * entry carries its document's version, and is replaced only by a version
 * at least as new (`Cache.setNewer`, atomic). A write leaves a fence: an
 * empty entry at the version it wrote, which reads treat as a miss and the
 * next read-through fills; a delete, or a write whose outcome is unknown,
 * leaves a fence no version passes until it expires. A read that fetched a
 * version before a write and stores it after therefore changes nothing, so a
 * client reads its own write on every replica. Absent documents are not
 * cached, so a create is visible at once. When a fence cannot be set (Redis
 * down), it is owed and set before the next read, which until then goes
 * around the cache, so a partition does not leave a stale entry.
 */
export function cachedDocumentStore(store: DocumentStore, options: DocumentCacheOptions): DocumentStore {
  const { cache, ttlSeconds = 300, uncertainWriteMs = 125_000, events = noOperationalEvents } = options;
  const owed = new Map<string, Fence>();

  /** Sets the fence (if given) and every fence still owed. */
  async function fence(key?: string, next?: Fence) {
    if (key && next) {
      const earlier = owed.get(key);
      if (!earlier || earlier.version <= next.version) owed.set(key, next);
    }
    for (const [owedKey, owedFence] of [...owed]) {
      try {
        await cache.setNewer(owedKey, owedFence.version, '', owedFence.ttlSeconds);
        if (owed.get(owedKey) === owedFence) owed.delete(owedKey);
      } catch {
        // Kept in `owed`; set before the next read and write.
      }
    }
  }

  const written = (record: DocumentRecord) =>
    fence(documentKey(record.tenantId, record.id), { version: record.version, ttlSeconds });

  /** Runs a write whose cache entry `done` sets; a write that may yet commit fences its entry instead. */
  async function write<T>(
    /** Unknown for a create that chooses its own id: nobody can have cached that id before it. */
    key: string | undefined,
    run: () => Promise<T>,
    done: (result: T) => Promise<void>,
  ): Promise<T> {
    let result: T;
    try {
      result = await run();
    } catch (error) {
      // The store's own answers (conflict, not found) wrote nothing.
      if (key && !isStoreAnswer(error))
        await fence(key, { version: closedFence, ttlSeconds: Math.ceil(uncertainWriteMs / 1000) });
      throw error;
    }
    await done(result);
    return result;
  }

  /** The cached JSON of each key (undefined where absent or fenced), or undefined if the cache failed. */
  async function readCached(keys: string[]): Promise<(string | undefined)[] | undefined> {
    try {
      return (await cache.getMany(keys)).map((stored) => {
        const entry = stored === undefined ? undefined : parseVersionedValue(stored);
        return entry?.value ? entry.value : undefined;
      });
    } catch {
      return undefined;
    }
  }

  async function findByIds(tenantId: string, ids: readonly string[], options?: ReadOptions) {
    if (owed.size > 0) await fence();
    const keys = ids.map((id) => documentKey(tenantId, id));
    // A cache with writes still owed could answer stale: read around it until they are done.
    const cached = owed.size > 0 ? undefined : await readCached(keys);
    // One outcome per document: `error` for each when the cache could not be used, else hit or miss.
    if (cached)
      for (const text of cached) events.cacheLookup('documents', text === undefined ? 'miss' : 'hit');
    else for (const _ of ids) events.cacheLookup('documents', 'error');
    const texts = cached ?? keys.map(() => undefined);
    const results: (DocumentRecord | null)[] = texts.map((text) =>
      text === undefined ? null : revive(text),
    );
    const missing = ids.filter((_, position) => texts[position] === undefined);
    if (missing.length === 0) return results;
    const loaded = await store.findByIds(tenantId, missing, options);
    const byId = new Map(missing.map((id, position) => [id, loaded[position] ?? null]));
    for (const [position, id] of ids.entries()) {
      if (texts[position] === undefined) results[position] = byId.get(id) ?? null;
    }
    for (const record of loaded) {
      // Not owed if it fails: a read-through is an optimisation, unlike a write's fence.
      if (record)
        cache
          .setNewer(documentKey(tenantId, record.id), record.version, JSON.stringify(record), ttlSeconds)
          .catch(() => {});
    }
    return results;
  }

  return {
    findByIds,
    create: (tenantId, document, id, writeOptions) =>
      write(
        id === undefined ? undefined : documentKey(tenantId, id),
        () => store.create(tenantId, document, id, writeOptions),
        written,
      ),
    update: (tenantId, id, patch, expectedVersion, writeOptions) =>
      write(
        documentKey(tenantId, id),
        () => store.update(tenantId, id, patch, expectedVersion, writeOptions),
        written,
      ),
    delete: (tenantId, id, writeOptions) =>
      write(
        documentKey(tenantId, id),
        () => store.delete(tenantId, id, writeOptions),
        () => fence(documentKey(tenantId, id), { version: closedFence, ttlSeconds }),
      ),
    // Read from the store: the count moves with every write, and a quota check needs it exact.
    usage: (tenantId) => store.usage(tenantId),
    pull: (limit, scope) => store.pull(limit, scope),
    acknowledge: (changes) => store.acknowledge(changes),
    oldestPendingAt: () => store.oldestPendingAt(),
    close: () => store.close(),
  };
}

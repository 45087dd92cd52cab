import type { DocumentChange } from '../../server/documents/model.ts';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';

export interface RefreshingSearchIndexOptions {
  /** How often buffered writes become searchable, as Elasticsearch's `refresh_interval`. */
  refreshIntervalMs: number;
  /**
   * Whether `apply` resolves only once its changes are searchable, as the
   * Elasticsearch adapter's `refresh=wait_for` writes do (the port's
   * contract). False answers at once, as `refresh=false` would.
   */
  waitForRefresh: boolean;
}

export interface RefreshingSearchIndex extends SearchIndex {
  /** Refreshes now instead of at the next tick. */
  refresh(): Promise<void>;
}

/**
 * A search index with Elasticsearch's near-real-time visibility, over any
 * other index (the embedded one in tests): writes wait in a buffer and reach
 * `search` only at the next refresh, every `refreshIntervalMs`. It lets the
 * caches be checked against the delay a real cluster has, which the
 * embedded index does not.
 */
export function refreshingSearchIndex(
  inner: SearchIndex,
  { refreshIntervalMs, waitForRefresh }: RefreshingSearchIndexOptions,
): RefreshingSearchIndex {
  let buffered: DocumentChange[] = [];
  let waiting: (() => void)[] = [];
  let refreshing: Promise<void> = Promise.resolve();

  function refresh(): Promise<void> {
    refreshing = refreshing.then(async () => {
      const changes = buffered;
      const settled = waiting;
      buffered = [];
      waiting = [];
      if (changes.length > 0) await inner.apply(changes);
      for (const resolve of settled) resolve();
    });
    return refreshing;
  }
  const timer = setInterval(() => void refresh(), refreshIntervalMs);
  timer.unref();

  return {
    search: (request) => inner.search(request),
    suggest: (...args) => inner.suggest(...args),
    async apply(changes) {
      buffered.push(...changes);
      if (waitForRefresh) await new Promise<void>((resolve) => waiting.push(resolve));
      return { rejected: [] };
    },
    refresh,
    async close() {
      clearInterval(timer);
      await refresh();
      await inner.close();
    },
  };
}

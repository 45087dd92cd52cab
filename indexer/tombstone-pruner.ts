import { setTimeout as sleep } from 'node:timers/promises';
import type { TombstonePruning } from '../server/documents/model.ts';
import type { Logger } from '../server/logger.ts';
import { type IndexerEvents, noIndexerEvents } from '../server/observability/events.ts';

export interface TombstonePrunerOptions {
  /** The documents store's tombstones: they make a re-created id continue after the deleted one's version. */
  store: TombstonePruning;
  /** The search index's tombstones: they stop a replayed older write from resurrecting a deleted document. */
  index: TombstonePruning;
  /** Tombstones of deletes committed longer ago than this go (TOMBSTONE_RETENTION). */
  retentionMs: number;
  /** How often a round runs (TOMBSTONE_PRUNE_INTERVAL). */
  intervalMs: number;
  /** Tombstones removed per call to a backend, so no call holds a lock or a transaction for long. */
  batchSize: number;
  logger: Logger;
  events?: IndexerEvents;
  /** Default `Date.now`. */
  now?: () => number;
}

export interface TombstonePruner {
  /** One whole round now; returns how many tombstones each side lost. */
  pruneNow(): Promise<{ index: number; store: number }>;
  stop(): Promise<void>;
}

/** Calls `prune` a batch at a time until a batch comes back short. */
async function pruneAll(side: TombstonePruning, before: Date, batchSize: number, signal: AbortSignal) {
  let removed = 0;
  for (;;) {
    signal.throwIfAborted();
    const count = await side.pruneTombstones(before, batchSize);
    removed += count;
    if (count < batchSize) return removed;
  }
}

/**
 * Removes tombstones older than the retention from the search index, then
 * from the documents store, with one cutoff per round. The index goes first:
 * if the store forgot a tombstone the index still held, re-creating that id
 * would start again at version 1, below the index's tombstone, and the new
 * document would never be searchable. The indexer parks changes committed
 * before the same cutoff, so no write older than a forgotten tombstone is
 * applied after it.
 */
export function startTombstonePruner(options: TombstonePrunerOptions): TombstonePruner {
  const { store, index, retentionMs, intervalMs, batchSize, logger } = options;
  const { events = noIndexerEvents, now = Date.now } = options;
  const stopping = new AbortController();

  async function round() {
    const before = new Date(now() - retentionMs);
    const fromIndex = await pruneAll(index, before, batchSize, stopping.signal);
    events.tombstonesPruned('search-index', fromIndex);
    const fromStore = await pruneAll(store, before, batchSize, stopping.signal);
    events.tombstonesPruned('documents', fromStore);
    return { index: fromIndex, store: fromStore };
  }

  // One round at a time, whether the timer or a caller started it.
  let previous: Promise<unknown> = Promise.resolve();
  function pruneNow() {
    const next = previous.then(round, round);
    previous = next.then(
      (removed) => {
        events.tombstonePruningFinished('ok');
        if (removed.index + removed.store > 0)
          logger.info(removed, 'pruned tombstones older than the retention');
      },
      (error: unknown) => {
        events.tombstonePruningFinished('error');
        if (!stopping.signal.aborted)
          logger.warn({ err: error }, 'pruning tombstones failed; the next round retries');
      },
    );
    return next;
  }

  async function loop() {
    while (!stopping.signal.aborted) {
      await pruneNow().catch(() => {});
      await sleep(intervalMs, undefined, { signal: stopping.signal }).catch(() => {});
    }
  }
  const running = loop();

  return {
    pruneNow,
    async stop() {
      stopping.abort();
      await running;
    },
  };
}

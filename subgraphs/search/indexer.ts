import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeFeed } from '../../server/documents/model.ts';
import type { PartitionScope } from '../../server/documents/partitions.ts';
import type { Logger } from '../../server/logger.ts';
import type { PartitionClaims } from './partition-claims.ts';
import type { SearchIndex } from './search-index.ts';

export interface IndexerOptions {
  feed: ChangeFeed;
  index: SearchIndex;
  logger: Logger;
  /** How long to wait when the outbox is empty. Default 100 ms, so writes are searchable well within a second. */
  pollIntervalMs?: number;
  /** Changes applied per round trip. Default 500. */
  batchSize?: number;
  /** Backoff after a failure doubles from this up to `maxBackoffMs`. Defaults 200 ms and 30 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** With claims, only the partitions this indexer holds; without, the whole outbox (one indexer, or a test). */
  claims?: Pick<PartitionClaims, 'whileHeld'>;
  /** Told how many changes each batch applied and acknowledged. */
  onApplied?: (count: number) => void;
}

export interface Indexer {
  /** Applies everything pending right now; returns how many changes it applied. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Moves outbox changes into the search index. Delivery is at-least-once (a
 * crash between apply and acknowledge replays a batch) and the index applies
 * changes by version, so a replay changes nothing. When the index is down the
 * changes wait in the outbox and the loop backs off, so none are lost.
 */
export function startIndexer(options: IndexerOptions): Indexer {
  const { feed, index, logger, pollIntervalMs = 100, batchSize = 500 } = options;
  const { initialBackoffMs = 200, maxBackoffMs = 30_000, claims, onApplied } = options;
  const stopping = new AbortController();

  async function applyChanges(scope?: PartitionScope): Promise<number> {
    const changes = await feed.pull(batchSize, scope);
    if (changes.length === 0) return 0;
    await index.apply(changes);
    await feed.acknowledge(changes);
    onApplied?.(changes.length);
    return changes.length;
  }

  /** A standby (no partition held) applies nothing, and polls again like an idle indexer. */
  async function applyNextBatch(): Promise<number> {
    if (!claims) return applyChanges();
    return (await claims.whileHeld(applyChanges)) ?? 0;
  }

  // One batch at a time: `drain` and the loop would otherwise pull the same
  // unacknowledged changes and apply them twice (harmless to the index, but
  // each apply also invalidates the tenant's cached searches).
  let previous: Promise<unknown> = Promise.resolve();
  function applyBatch(): Promise<number> {
    const next = previous.then(applyNextBatch, applyNextBatch);
    previous = next.catch(() => {});
    return next;
  }

  async function drain(): Promise<number> {
    let applied = 0;
    for (let count = await applyBatch(); count > 0; count = await applyBatch()) applied += count;
    return applied;
  }

  async function loop() {
    let backoffMs = initialBackoffMs;
    while (!stopping.signal.aborted) {
      try {
        const applied = await applyBatch();
        backoffMs = initialBackoffMs;
        if (applied === 0) await sleep(pollIntervalMs, undefined, { signal: stopping.signal });
      } catch (error) {
        if (stopping.signal.aborted) break;
        logger.warn({ err: error, retryInMs: backoffMs }, 'indexing failed; changes stay in the outbox');
        await sleep(backoffMs * (0.5 + Math.random() / 2), undefined, { signal: stopping.signal }).catch(
          () => {},
        );
        backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
      }
    }
  }

  const running = loop().catch((error: unknown) => {
    if (!stopping.signal.aborted) logger.error({ err: error }, 'indexer stopped unexpectedly');
  });

  return {
    drain,
    async stop() {
      stopping.abort();
      await running;
    },
  };
}

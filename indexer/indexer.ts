import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeFeed, DeadLetter, DeadLetterStore, DocumentChange } from '../server/documents/model.ts';
import type { PartitionScope } from '../server/documents/partitions.ts';
import type { Logger } from '../server/logger.ts';
import { type IndexerEvents, noIndexerEvents } from '../server/observability/events.ts';
import type { RejectedChange, SearchIndex } from '../subgraphs/search/search-index.ts';
import type { PartitionClaims } from './partition-claims.ts';

export interface IndexerOptions {
  feed: ChangeFeed;
  /** Where changes the index refuses, or keeps failing on, are parked so the rest go on. */
  deadLetters: DeadLetterStore;
  index: SearchIndex;
  logger: Logger;
  events?: IndexerEvents;
  /** Attempts at a change that fails on its own (the index answering for the others) before it is parked. Default 5. */
  maxAttempts?: number;
  /**
   * Changes committed longer ago than this are parked rather than applied: their document's tombstone may
   * have been pruned, so the index could no longer tell them from a newer delete. Default: none.
   */
  tombstoneRetentionMs?: number;
  /** The clock for the retention. Default `Date.now`. */
  now?: () => number;
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
  /**
   * Applies everything pending right now, stopping early at a batch with changes to try again (as the
   * loop backs off then); returns how many changes it applied or parked.
   */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

/** The outcome of one batch: what left the outbox, and what stays there for another attempt. */
interface BatchOutcome {
  /** Acknowledged or parked. */
  settled: number;
  retrying: number;
}

/** A dead letter about to be written, and why. */
type ParkedChange = Omit<DeadLetter, 'id' | 'parkedAt'> & { reason: 'refused' | 'attempts' };

/**
 * Counts attempts at changes that failed on their own, by outbox entry, and says which have had enough.
 * Kept in memory: an indexer that takes the entry over starts counting again, which only delays parking.
 */
export function createAttemptCounter(maxAttempts: number) {
  const attempts = new Map<string, number>();
  return {
    /**
     * Splits failures into those to park now (with their attempts) and those to try again. Without
     * `counting`, passing failures are not counted: the index failed on the whole batch, not on them.
     */
    triage(failures: readonly RejectedChange[], counting: boolean) {
      const park: ParkedChange[] = [];
      const retry: RejectedChange[] = [];
      for (const failure of failures) {
        const made = (attempts.get(failure.change.sequence) ?? 0) + (counting || failure.permanent ? 1 : 0);
        if (failure.permanent || (counting && made >= maxAttempts))
          park.push({
            change: failure.change,
            error: failure.error,
            attempts: made,
            reason: failure.permanent ? 'refused' : 'attempts',
          });
        else {
          attempts.set(failure.change.sequence, made);
          retry.push(failure);
        }
      }
      return { park, retry };
    },
    forget(changes: readonly DocumentChange[]) {
      for (const change of changes) attempts.delete(change.sequence);
    },
  };
}

/** Changes too old to apply safely, refused as the index would refuse a change of its own. */
export function expiredChanges(
  changes: readonly DocumentChange[],
  committedAfter: number | undefined,
): RejectedChange[] {
  if (committedAfter === undefined) return [];
  return changes
    .filter((change) => change.committedAt.getTime() < committedAfter)
    .map((change) => ({
      change,
      error:
        'committed before the tombstone retention (TOMBSTONE_RETENTION): a newer delete of its document may have been forgotten, so it is not applied; write the document again, or run a reindex',
      permanent: true,
    }));
}

/**
 * Moves outbox changes into the search index. Delivery is at-least-once (a
 * crash between apply and acknowledge replays a batch) and the index applies
 * changes by version, so a replay changes nothing. When the index is down the
 * changes wait in the outbox and the loop backs off, so none are lost. A
 * change the index refuses, or fails on `maxAttempts` times while the rest of
 * its batch applies, is parked as a dead letter, so it never holds up the
 * others.
 */
export function startIndexer(options: IndexerOptions): Indexer {
  const { feed, deadLetters, index, logger, pollIntervalMs = 100, batchSize = 500 } = options;
  const {
    initialBackoffMs = 200,
    maxBackoffMs = 30_000,
    maxAttempts = 5,
    events = noIndexerEvents,
  } = options;
  const { tombstoneRetentionMs, now = Date.now, claims, onApplied } = options;
  const stopping = new AbortController();
  const attempts = createAttemptCounter(maxAttempts);

  async function park(letters: ParkedChange[], expired: ReadonlySet<DocumentChange>) {
    if (letters.length === 0) return;
    await deadLetters.park(letters.map(({ change, error, attempts }) => ({ change, error, attempts })));
    for (const letter of letters) {
      logger.error(
        {
          tenantId: letter.change.tenantId,
          documentId: letter.change.documentId,
          version: letter.change.version,
          deadLetter: letter.change.sequence,
          attempts: letter.attempts,
          error: letter.error,
        },
        'change parked as a dead letter; see npm run dead-letters',
      );
    }
    const reasons = Map.groupBy(letters, (letter) =>
      expired.has(letter.change) ? 'expired' : letter.reason,
    );
    for (const [reason, group] of reasons) events.changesParked(reason, group.length);
  }

  async function applyChanges(scope?: PartitionScope): Promise<BatchOutcome> {
    const changes = await feed.pull(batchSize, scope);
    if (changes.length === 0) return { settled: 0, retrying: 0 };
    const expired = expiredChanges(
      changes,
      tombstoneRetentionMs === undefined ? undefined : now() - tombstoneRetentionMs,
    );
    const expiredSet = new Set(expired.map((refusal) => refusal.change));
    const applicable = changes.filter((change) => !expiredSet.has(change));
    const { rejected } = applicable.length > 0 ? await index.apply(applicable) : { rejected: [] };
    // A cluster that answers every change of a batch with a 429 is busy, not failing on those changes:
    // nothing is counted towards parking then.
    const someApplied = rejected.length < applicable.length;
    const { park: letters, retry } = attempts.triage([...expired, ...rejected], someApplied);
    await park(letters, expiredSet);
    const held = new Set<DocumentChange>([...letters, ...retry].map((failure) => failure.change));
    const done = changes.filter((change) => !held.has(change));
    await feed.acknowledge(done);
    onApplied?.(done.length);
    attempts.forget(done);
    attempts.forget(letters.map((letter) => letter.change));
    if (retry.length > 0) {
      events.changesRetrying(retry.length);
      logger.warn(
        { failed: retry.map(({ change, error }) => ({ sequence: change.sequence, error })) },
        'the index failed on some changes; they stay in the outbox and are tried again',
      );
    }
    return { settled: changes.length - retry.length, retrying: retry.length };
  }

  /** A standby (no partition held) applies nothing, and polls again like an idle indexer. */
  async function applyNextBatch(): Promise<BatchOutcome> {
    if (!claims) return applyChanges();
    return (await claims.whileHeld(applyChanges)) ?? { settled: 0, retrying: 0 };
  }

  // One batch at a time: `drain` and the loop would otherwise pull the same
  // unacknowledged changes and apply them twice (harmless to the index, but
  // each apply also invalidates the tenant's cached searches).
  let previous: Promise<unknown> = Promise.resolve();
  function applyBatch(): Promise<BatchOutcome> {
    const next = previous.then(applyNextBatch, applyNextBatch);
    previous = next.catch(() => {});
    return next;
  }

  async function drain(): Promise<number> {
    let settled = 0;
    for (;;) {
      const batch = await applyBatch();
      settled += batch.settled;
      if (batch.settled === 0 || batch.retrying > 0) return settled;
    }
  }

  async function loop() {
    let backoffMs = initialBackoffMs;
    while (!stopping.signal.aborted) {
      const backOff = async () => {
        await sleep(backoffMs * (0.5 + Math.random() / 2), undefined, { signal: stopping.signal }).catch(
          () => {},
        );
        backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
      };
      try {
        const batch = await applyBatch();
        // Changes that failed on their own are tried again after the same backoff as a failed batch.
        if (batch.retrying > 0) await backOff();
        else {
          backoffMs = initialBackoffMs;
          if (batch.settled === 0) await sleep(pollIntervalMs, undefined, { signal: stopping.signal });
        }
      } catch (error) {
        if (stopping.signal.aborted) break;
        logger.warn({ err: error, retryInMs: backoffMs }, 'indexing failed; changes stay in the outbox');
        await backOff();
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

import type { PartitionScope } from '../server/documents/partitions.ts';
import type { Logger } from '../server/logger.ts';

export interface PartitionLease {
  partition: number;
  holder: string;
  expiresAt: Date;
}

/**
 * Where indexers record which of them holds which outbox partition: in the
 * backend of the outbox (MongoDB, or the embedded SQLite file). A lease is
 * good until its expiry; nobody else can take it before, anyone can after.
 */
export interface PartitionLeases {
  /**
   * Takes `partition` for `holder` until `until`, if it is free, expired at `now`, or already the holder's
   * (which renews it). True when the holder has it now; one atomic step, so two callers never both win.
   */
  acquire(partition: number, holder: string, now: Date, until: Date): Promise<boolean>;
  /** Frees the partition at once, if `holder` still has it. */
  release(partition: number, holder: string): Promise<void>;
  /**
   * Records that `holder` is running until `until`, so the others leave it a share, even while it holds
   * nothing; forgets holders whose time ran out at `now`.
   */
  announce(holder: string, now: Date, until: Date): Promise<void>;
  /** The holders announced past `now`, and the leases not expired at `now`. */
  snapshot(now: Date): Promise<{ holders: string[]; leases: PartitionLease[] }>;
  close(): Promise<void>;
}

export interface PartitionClaimEvents {
  /** How many partitions this indexer holds now. */
  held(count: number): void;
  /** A lease ran out or was taken before this indexer could renew it. */
  lost(partition: number): void;
}

export interface PartitionClaimsOptions {
  leases: PartitionLeases;
  /** This indexer's name in the lease records; unique per process. */
  holder: string;
  /** OUTBOX_PARTITIONS. */
  count: number;
  /** INDEXER_LEASE_MS: how long a lease lasts without renewal; renewed every third of it. */
  leaseMs: number;
  logger: Logger;
  events?: PartitionClaimEvents;
  clock?: () => number;
}

export interface PartitionClaims {
  /**
   * Runs `work` on the partitions held now; returns undefined without running it when none is held (a standby).
   * A partition is never released while `work` runs on it.
   */
  whileHeld<T>(work: (scope: PartitionScope) => Promise<T>): Promise<T | undefined>;
  /** The partitions held now and not being handed over, in order. */
  held(): number[];
  /** Stops renewing and releases every partition, so the others take them at once rather than at expiry. */
  stop(): Promise<void>;
}

/**
 * Claims a fair share of the outbox partitions for one indexer, and keeps it.
 * Every round (a third of the lease) it renews what it holds, counts the
 * running indexers, gives up partitions beyond `ceil(count / indexers)` and
 * takes free or expired ones up to that share. A killed indexer stops
 * renewing, so its partitions are taken within a lease and a round.
 * Resolves after the first round, so a lone indexer holds every partition
 * when it starts.
 */
export async function startPartitionClaims(options: PartitionClaimsOptions): Promise<PartitionClaims> {
  const { leases, holder, count, leaseMs, logger, events, clock = Date.now } = options;
  /** Each held partition and when its lease runs out, as this indexer wrote it. */
  const held = new Map<number, number>();
  /** Held partitions being given up: left out of new batches, renewed until the running batch ends. */
  const handingOver = new Set<number>();
  let working: Promise<unknown> = Promise.resolve();
  let stopped = false;

  const active = () => [...held.keys()].filter((partition) => !handingOver.has(partition));
  const report = () => events?.held(active().length);
  const valid = () => active().filter((partition) => (held.get(partition) ?? 0) > clock());

  function lose(partition: number, reason: string) {
    // This indexer stopped applying the partition when its lease ran out, which may be before now.
    const expiredAt = new Date(Math.min(held.get(partition) ?? clock(), clock()));
    held.delete(partition);
    handingOver.delete(partition);
    events?.lost(partition);
    logger.warn({ partition, holder, reason, expiredAt }, 'partition lease lost');
  }

  async function release(partitions: number[]) {
    for (const partition of partitions) {
      if (!held.delete(partition)) continue;
      handingOver.delete(partition);
      logger.info({ partition, holder }, 'partition released');
      await leases.release(partition, holder);
    }
  }

  /** Gives `partitions` up once the batch running now, which may include them, has finished. */
  function handOver(partitions: number[]) {
    for (const partition of partitions) handingOver.add(partition);
    void working
      .catch(() => {})
      .then(() => release(partitions))
      .catch((error: unknown) => {
        logger.warn({ err: error, holder }, 'partition leases not released; they expire instead');
      });
  }

  async function round() {
    const now = clock();
    const until = now + leaseMs;
    for (const [partition, expiresAt] of held)
      if (expiresAt <= now) lose(partition, 'expired before renewal');
    await leases.announce(holder, new Date(now), new Date(until));
    for (const partition of [...held.keys()]) {
      if (await leases.acquire(partition, holder, new Date(now), new Date(until))) held.set(partition, until);
      else lose(partition, 'taken by another indexer');
    }
    const { holders, leases: current } = await leases.snapshot(new Date(now));
    const share = Math.ceil(count / new Set([...holders, holder]).size);
    const surplus = active()
      .sort((a, b) => a - b)
      .slice(share);
    if (surplus.length > 0) handOver(surplus);
    const taken = new Set(current.map((lease) => lease.partition));
    for (let partition = 0; partition < count && active().length < share; partition += 1) {
      if (taken.has(partition) || held.has(partition)) continue;
      if (await leases.acquire(partition, holder, new Date(now), new Date(until))) {
        held.set(partition, until);
        logger.info({ partition, holder }, 'partition acquired');
      }
    }
    report();
  }

  const roundMs = Math.max(1, Math.floor(leaseMs / 3));
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (stopped) return;
    running = round()
      .catch((error: unknown) => {
        logger.warn({ err: error, holder }, 'partition leases could not be renewed; retrying next round');
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(schedule, roundMs);
      });
  };
  schedule();
  await running;

  return {
    async whileHeld(work) {
      const partitions = valid();
      if (partitions.length === 0) return undefined;
      const result = work({ count, partitions });
      working = result;
      return result;
    },
    held: () => active().sort((a, b) => a - b),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await working.catch(() => {});
      await release([...held.keys()]).catch((error: unknown) => {
        logger.warn({ err: error, holder }, 'partition leases not released; they expire instead');
      });
      report();
    },
  };
}

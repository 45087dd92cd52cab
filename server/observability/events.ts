/**
 * What the cross-cutting modules report as they work. Caches, breakers,
 * retries, rate limits and DataLoaders call these hooks; the metrics module
 * implements them with prom-client. The callers never import prom-client,
 * and tests can pass a recorder.
 */
export interface OperationalEvents {
  /** `refresh`: a hit that also started a background refresh of the entry. */
  cacheLookup(cache: string, outcome: 'hit' | 'miss' | 'stale' | 'error' | 'refresh'): void;
  breakerStateChanged(dependency: string, state: 'closed' | 'open' | 'half-open' | 'isolated'): void;
  retried(dependency: string): void;
  rateLimited(tenantId: string): void;
  backendCall(dependency: string, operation: string, seconds: number, outcome: 'ok' | 'error'): void;
  batchLoaded(loader: string, size: number): void;
  /**
   * A worker process of `pool` was lost: killed because a call ran past its deadline (`deadline`),
   * or it died on its own (`exited`).
   */
  workerLost(pool: string, reason: WorkerLoss): void;
}

export type WorkerLoss = 'deadline' | 'exited';

/** For wiring that has nobody listening (unit tests, tools). */
export const noOperationalEvents: OperationalEvents = {
  cacheLookup() {},
  breakerStateChanged() {},
  retried() {},
  rateLimited() {},
  backendCall() {},
  batchLoaded() {},
  workerLost() {},
};

/** What the indexer reports: changes parked as dead letters, and tombstones pruned. */
export interface IndexerEvents {
  /** `refused`: the index refused the change itself; `attempts`: it kept failing; `expired`: older than the tombstone retention. */
  changesParked(reason: 'refused' | 'attempts' | 'expired', count: number): void;
  /** A change the index failed on this time and that stays in the outbox for another attempt. */
  changesRetrying(count: number): void;
  tombstonesPruned(store: 'documents' | 'search-index', count: number): void;
  tombstonePruningFinished(outcome: 'ok' | 'error'): void;
}

export const noIndexerEvents: IndexerEvents = {
  changesParked() {},
  changesRetrying() {},
  tombstonesPruned() {},
  tombstonePruningFinished() {},
};

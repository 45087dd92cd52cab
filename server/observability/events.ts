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
}

/** For wiring that has nobody listening (unit tests, tools). */
export const noOperationalEvents: OperationalEvents = {
  cacheLookup() {},
  breakerStateChanged() {},
  retried() {},
  rateLimited() {},
  backendCall() {},
  batchLoaded() {},
};

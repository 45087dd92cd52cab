/**
 * Merges concurrent calls that would fetch the same thing: while one call
 * for a key is in flight, later callers with that key wait for its result
 * instead of starting their own. Nothing is kept after it settles, so this
 * is not a cache: a caller that arrives a moment later starts a fresh call.
 * The caller decides what may be merged (see `SubgraphDataSource`).
 */
export interface InflightRequests<T> {
  run(key: string, start: () => Promise<T>): Promise<T>;
  /** Calls in flight now (for tests and diagnostics). */
  readonly size: number;
}

export function createInflightRequests<T>(): InflightRequests<T> {
  const pending = new Map<string, Promise<T>>();
  return {
    run(key, start) {
      const existing = pending.get(key);
      if (existing) return existing;
      const call = start().finally(() => pending.delete(key));
      pending.set(key, call);
      return call;
    },
    get size() {
      return pending.size;
    },
  };
}

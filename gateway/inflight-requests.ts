/**
 * Merges concurrent calls that would fetch the same thing: while one call
 * for a key is in flight, later callers with that key wait for its result
 * instead of starting their own. Nothing is kept after it settles, so this
 * is not a cache: a caller that arrives a moment later starts a fresh call.
 * The caller decides what may be merged (see `SubgraphDataSource`).
 *
 * The shared call's signal aborts once every caller waiting for it has gone
 * (each caller's own signal aborted); a caller without a signal never leaves.
 */
export interface InflightRequests<T> {
  run(key: string, start: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Calls in flight now (for tests and diagnostics). */
  readonly size: number;
}

interface SharedCall<T> {
  promise: Promise<T>;
  controller: AbortController;
  /** Callers still waiting for the answer. */
  waiting: number;
}

export function createInflightRequests<T>(): InflightRequests<T> {
  const pending = new Map<string, SharedCall<T>>();

  function join(call: SharedCall<T>, signal: AbortSignal | undefined): Promise<T> {
    call.waiting += 1;
    if (!signal) return call.promise;
    const leave = () => {
      call.waiting -= 1;
      if (call.waiting === 0) call.controller.abort(signal.reason);
    };
    if (signal.aborted) leave();
    else {
      signal.addEventListener('abort', leave, { once: true });
      call.promise.then(
        () => signal.removeEventListener('abort', leave),
        () => signal.removeEventListener('abort', leave),
      );
    }
    return call.promise;
  }

  return {
    run(key, start, signal) {
      const existing = pending.get(key);
      if (existing) return join(existing, signal);
      const controller = new AbortController();
      const call: SharedCall<T> = {
        promise: start(controller.signal).finally(() => pending.delete(key)),
        controller,
        waiting: 0,
      };
      pending.set(key, call);
      return join(call, signal);
    },
    get size() {
      return pending.size;
    },
  };
}

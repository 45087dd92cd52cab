export interface TenantBulkheadOptions {
  /** Calls one tenant may have running at once. Default 2. */
  concurrency?: number;
  /** Calls one tenant may have waiting for a slot; past this they are refused at once. Default 4. */
  queue?: number;
  /** How long a call may wait for a slot before it is refused. Default 250 ms. */
  queueTimeoutMs?: number;
  /** Names the guarded backend in errors, for instance `search-index`. */
  dependency: string;
}

/**
 * A tenant asked for more than its share of a backend: too many calls in
 * flight, or it waited too long for a slot. An answer about the tenant's own
 * load, so breakers never count it; clients see RATE_LIMITED.
 */
export class TenantBusyError extends Error {
  override name = 'TenantBusyError';
  readonly isTenantBusy = true;
  constructor(dependency: string) {
    super(`${dependency}: too many calls in flight for this tenant`);
  }
}

export function isTenantBusy(error: unknown): error is TenantBusyError {
  return (error as TenantBusyError | null)?.isTenantBusy === true;
}

/** Given to a call: keeps its slot taken after the call returns, until `until` settles. */
export type HoldSlot = (until: Promise<unknown>) => void;

export interface TenantBulkheads {
  /**
   * Runs `fn` within the tenant's share, or throws `TenantBusyError`. A call
   * whose `signal` aborts while it waits leaves the queue at once, with the
   * signal's reason, so a caller that has gone holds no place in it.
   */
  run<T>(tenantId: string, fn: (holdSlot: HoldSlot) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Tenants with calls running or waiting now. */
  activeTenants(): number;
}

interface TenantShare {
  running: number;
  waiting: (() => void)[];
}

/**
 * One bulkhead per tenant and backend, so one tenant can hold only a share
 * of the backend's workers or connections. A tenant's entry exists only
 * while it has calls running or waiting, so the map never holds more
 * entries than there are calls in flight.
 *
 * Hand-written rather than cockatiel's `bulkhead`: that one keeps a timed-out
 * caller in its queue until a slot frees, and frees a slot when its call
 * returns, while a call may leave work behind that still occupies the
 * backend (a worker restarting after a stopped query).
 */
export function createTenantBulkheads(options: TenantBulkheadOptions): TenantBulkheads {
  const { concurrency = 2, queue = 4, queueTimeoutMs = 250, dependency } = options;
  const shares = new Map<string, TenantShare>();

  function release(tenantId: string, share: TenantShare) {
    const next = share.waiting.shift();
    if (next) return next();
    share.running -= 1;
    if (share.running === 0) shares.delete(tenantId);
  }

  /** Resolves once the caller holds a slot: at once, or when one is handed over from a finished call. */
  function acquire(tenantId: string, signal?: AbortSignal): Promise<TenantShare> | TenantShare {
    signal?.throwIfAborted();
    let share = shares.get(tenantId);
    if (!share) {
      share = { running: 0, waiting: [] };
      shares.set(tenantId, share);
    }
    if (share.running < concurrency) {
      share.running += 1;
      return share;
    }
    if (share.waiting.length >= queue) throw new TenantBusyError(dependency);
    const waiting = share;
    return new Promise((resolve, reject) => {
      const leave = (reason: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiting.waiting.splice(waiting.waiting.indexOf(handOver), 1);
        reject(reason);
      };
      const onAbort = () => leave(signal?.reason);
      const handOver = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(waiting);
      };
      const timer = setTimeout(() => leave(new TenantBusyError(dependency)), queueTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.waiting.push(handOver);
    });
  }

  return {
    async run(tenantId, fn, signal) {
      const share = await acquire(tenantId, signal);
      let held: Promise<unknown> | undefined;
      try {
        return await fn((until) => {
          held = until;
        });
      } finally {
        if (held) {
          const free = () => release(tenantId, share);
          held.then(free, free);
        } else release(tenantId, share);
      }
    },
    activeTenants: () => shares.size,
  };
}

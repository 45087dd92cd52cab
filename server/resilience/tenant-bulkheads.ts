import { BulkheadPolicy, BulkheadRejectedError } from 'cockatiel';

export interface TenantBulkheadOptions {
  /** Calls one tenant may have running at once. Default 2. */
  concurrency?: number;
  /** Calls one tenant may have waiting for a slot; past this they are refused at once. Default 4. */
  queue?: number;
  /** How long a call may wait for a slot before it is refused. Default 500 ms. */
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

export interface TenantBulkheads {
  /** Runs `fn` within the tenant's share, or throws `TenantBusyError`. */
  run<T>(tenantId: string, fn: () => Promise<T>): Promise<T>;
  /** Tenants with calls running or waiting now. */
  activeTenants(): number;
}

/**
 * One bulkhead per tenant and backend, so one tenant can hold only a share
 * of the backend's workers or connections. A tenant's bulkhead exists only
 * while it has calls running or waiting, so the map never holds more
 * entries than there are calls in flight.
 */
export function createTenantBulkheads(options: TenantBulkheadOptions): TenantBulkheads {
  const { concurrency = 2, queue = 4, queueTimeoutMs = 500, dependency } = options;
  const bulkheads = new Map<string, { policy: BulkheadPolicy; calls: number }>();

  return {
    async run(tenantId, fn) {
      let entry = bulkheads.get(tenantId);
      if (!entry) {
        entry = { policy: new BulkheadPolicy(concurrency, queue), calls: 0 };
        bulkheads.set(tenantId, entry);
      }
      const held = entry;
      held.calls += 1;
      // cockatiel's queue notices an aborted call only when a slot frees up; the race refuses the caller on
      // time, and the bulkhead then drops the call without running it.
      const waited = new AbortController();
      let started = false;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          held.policy.execute(() => {
            started = true;
            clearTimeout(timer);
            return fn();
          }, waited.signal),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              if (started) return;
              waited.abort();
              reject(new TenantBusyError(dependency));
            }, queueTimeoutMs);
          }),
        ]);
      } catch (error) {
        if (error instanceof BulkheadRejectedError) throw new TenantBusyError(dependency);
        throw error;
      } finally {
        clearTimeout(timer);
        held.calls -= 1;
        if (held.calls === 0) bulkheads.delete(tenantId);
      }
    },
    activeTenants: () => bulkheads.size,
  };
}

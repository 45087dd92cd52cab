import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Backend faults injected at a port (DocumentStore, SearchIndex), the way a
 * driver would report them:
 * - down: every call fails at once (ECONNREFUSED);
 * - slow: every call answers after `delayMs`;
 * - late: every call runs at once, and its answer arrives up to `delayMs`
 *   later, each a random share of it, so answers overtake one another (a read
 *   returns what was there when it ran, as over a slow network);
 * - reset: every call fails with ECONNRESET after a short moment;
 * - blackhole: every call hangs until the fault clears.
 */
export type BackendFault = 'none' | 'down' | 'slow' | 'late' | 'reset' | 'blackhole';

export interface FaultSwitch {
  set(fault: BackendFault, options?: { delayMs?: number }): void;
  /** Back to normal; hung calls are released with an error, as a dropped connection would. */
  clear(): void;
  /** Calls that reached the backend (faulty or not). */
  calls(): number;
}

function connectionError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:27017`), { code });
}

export function createFaultSwitch(): FaultSwitch & { wrap<T extends object>(target: T): T } {
  let fault: BackendFault = 'none';
  let delayMs = 0;
  let count = 0;
  let releaseHung = new AbortController();

  /** A call given a read's `signal` stops waiting when it aborts, as the drivers do. */
  async function before(signal: AbortSignal | undefined) {
    count++;
    switch (fault) {
      case 'down':
        throw connectionError('ECONNREFUSED');
      case 'reset':
        await sleep(5, undefined, { signal });
        throw connectionError('ECONNRESET');
      case 'slow':
        await sleep(delayMs, undefined, { signal });
        return;
      case 'blackhole': {
        const hung = signal ? AbortSignal.any([releaseHung.signal, signal]) : releaseHung.signal;
        await sleep(3_600_000, undefined, { signal: hung }).catch(() => {});
        signal?.throwIfAborted();
        throw connectionError('ETIMEDOUT');
      }
      default:
    }
  }

  const signalOf = (args: unknown[]) =>
    args
      .map((arg) => (arg as { signal?: unknown } | null)?.signal)
      .find((found) => found instanceof AbortSignal);

  return {
    set(next, options = {}) {
      fault = next;
      delayMs = options.delayMs ?? 1000;
    },
    clear() {
      fault = 'none';
      releaseHung.abort();
      releaseHung = new AbortController();
    },
    calls: () => count,
    wrap<T extends object>(target: T): T {
      return new Proxy(target, {
        get(object, property, receiver) {
          const value = Reflect.get(object, property, receiver);
          if (typeof value !== 'function' || property === 'close') return value;
          return async (...args: unknown[]) => {
            await before(signalOf(args));
            const answer = await value.apply(object, args);
            if (fault === 'late') await sleep(Math.random() * delayMs);
            return answer;
          };
        },
      });
    },
  };
}

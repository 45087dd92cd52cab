import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  decorrelatedJitterGenerator,
  ExponentialBackoff,
  handleWhen,
  IsolatedCircuitError,
  retry,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { LRUCache } from 'lru-cache';
import { noOperationalEvents, type OperationalEvents } from '../observability/events.ts';

/** An option that is one value for every dependency, or chosen per dependency name (`redis`, `subgraph:search`, …). */
export type PerDependency<T> = T | ((dependency: string) => T);

export interface ResilienceOptions {
  /** Deadline for one attempt. It sits inside the breaker, so a slow call counts as a failure. Default 2000 ms. */
  timeoutMs?: PerDependency<number>;
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold?: PerDependency<number>;
  /** How long an open breaker refuses calls before letting one trial through. Default 5000 ms. */
  halfOpenAfterMs?: PerDependency<number>;
  /** Attempts for idempotent reads, the first included. Default 3. Writes always get exactly one. */
  readAttempts?: PerDependency<number>;
  /** First retry delay; it grows exponentially with decorrelated jitter up to `retryMaxDelayMs`. Default 25 ms. */
  retryInitialDelayMs?: PerDependency<number>;
  /** Largest retry delay. Default 500 ms, so retries never add much to a caller's wait. */
  retryMaxDelayMs?: PerDependency<number>;
  /** Where breaker changes, retries and backend calls are reported. Default: nowhere. */
  events?: OperationalEvents;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface RunOptions {
  /** Reads are retried; writes never are, since a write that timed out may still have happened. */
  idempotent: boolean;
  /**
   * Which failures of an idempotent call are worth another attempt; default every one. The gateway
   * retries a subgraph only when nothing reached it, so a read is retried at one layer, not two.
   */
  retryWhen?: (error: unknown) => boolean;
  /** Names the call in events, for instance `findByIds`. */
  operation: string;
  /**
   * Errors that are answers, not failures (a version conflict, a missing
   * document): they pass through untouched and never trip the breaker.
   */
  isExpected?: (error: unknown) => boolean;
  /**
   * `fn` stops when its signal aborts (the ports' reads, the gateway's subgraph calls): an attempt
   * that times out ends when `fn` has stopped, so nothing abandoned runs beside a retry. Without it
   * the attempt ends at once at its timeout, and `fn` is left to stop on its own.
   */
  stopsOnAbort?: boolean;
  /**
   * Aborts the call from outside: the request's deadline (`AbortSignal.timeout`), or its client gone.
   * The attempt running then is stopped and none follows. A deadline that passed counts against the
   * breakers like a timeout; a caller who left counts on none, shared or its tenant's.
   */
  signal?: AbortSignal;
  /**
   * The tenant the call is made for. Its timeouts count against a breaker of
   * that tenant's own. They count against the dependency's shared breaker
   * only when no other caller was answered while the call waited: a slow
   * answer while others are served is the tenant's own costly request, and
   * must not refuse the dependency to every other tenant.
   */
  tenantId?: string;
}

export interface DependencyPolicy {
  readonly dependency: string;
  run<T>(fn: (signal: AbortSignal) => Promise<T>, options: RunOptions): Promise<T>;
  state(): BreakerState;
}

/**
 * What every caller sees when a dependency fails, times out or its breaker
 * is open. Resolvers map it to their client code (SEARCH_UNAVAILABLE, …).
 */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  readonly isDependencyUnavailable = true;
  readonly dependency: string;
  /** True when the breaker refused the call without trying it. */
  readonly breakerOpen: boolean;
  /** True when the attempt was abandoned at its timeout or the caller's deadline: it may still be running. */
  readonly timedOut: boolean;
  constructor(dependency: string, cause: unknown, breakerOpen = false) {
    super(`${dependency} is unavailable`, { cause });
    this.dependency = dependency;
    this.breakerOpen = breakerOpen;
    this.timedOut = cause instanceof AttemptTimeoutError || cause instanceof TenantTimeoutError;
  }
}

export function isDependencyUnavailable(error: unknown): error is DependencyUnavailableError {
  return (error as DependencyUnavailableError | null)?.isDependencyUnavailable === true;
}

/** Settles with `call`, or rejects as soon as `signal` aborts, whichever comes first. */
function endedByAbort<T>(call: Promise<T>, signal: AbortSignal): Promise<T> {
  const { promise, reject } = Promise.withResolvers<never>();
  const onAbort = () => reject(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return Promise.race([call, promise]).finally(() => signal.removeEventListener('abort', onAbort));
}

/** `AbortSignal.timeout`'s reason: the caller's deadline passed, which says the dependency was slow. */
const isDeadline = (reason: unknown) => (reason as Error | undefined)?.name === 'TimeoutError';

/** A failure the call's `retryWhen` declines: the breakers have counted it already. */
class NotRetriedError extends Error {
  override name = 'NotRetriedError';
  constructor(cause: unknown) {
    super('not retried', { cause });
  }
}

/** An attempt ended by its timeout or the caller's deadline: the one failure a tenant's own breaker counts. */
class AttemptTimeoutError extends Error {
  override name = 'AttemptTimeoutError';
  constructor(cause: unknown) {
    super('the attempt timed out', { cause });
  }
}

/** An attempt stopped because its caller aborted: neither a failure of the dependency nor worth a retry. */
class CallerGoneError extends Error {
  override name = 'CallerGoneError';
  constructor(cause: unknown) {
    super('The caller stopped waiting', { cause });
  }
}

const stateNames: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

function pick<T>(option: PerDependency<T> | undefined, dependency: string, fallback: T): T {
  if (option === undefined) return fallback;
  return typeof option === 'function' ? (option as (dependency: string) => T)(dependency) : option;
}

type Outcome<T> = { value: T } | { expected: unknown };

/** How many tenants' own breakers one dependency remembers; the least recently used is forgotten. */
const maxTenantBreakers = 10_000;

/**
 * A tenant's call timed out while other callers were answered: charged to
 * that tenant's breaker, so the shared breaker lets it pass uncounted.
 */
class TenantTimeoutError extends Error {
  override name = 'TenantTimeoutError';
  constructor(cause: unknown) {
    super('the call timed out', { cause });
  }
}

/** What `fn` itself threw, under the errors this policy wraps it in. */
function thrownByCall(error: unknown): unknown {
  const wrapped = error instanceof AttemptTimeoutError || error instanceof TenantTimeoutError;
  return wrapped ? thrownByCall(error.cause) : error;
}

function createPolicy(dependency: string, options: ResilienceOptions): DependencyPolicy {
  const events = options.events ?? noOperationalEvents;
  // Cooperative: at the deadline the attempt's signal aborts, and the attempt itself decides when it
  // ends (see `stopsOnAbort`), inside the wrapper below that tells a caller gone from a failure.
  // abortOnReturn off: aborting a finished call's signal does nothing useful, and builds an
  // AbortError DOMException with a stack trace on every call, visible in a cache hit's profile.
  const attemptTimeout = timeout(pick(options.timeoutMs, dependency, 2000), {
    strategy: TimeoutStrategy.Cooperative,
    abortOnReturn: false,
  });
  const breakerOptions = () => ({
    breaker: new ConsecutiveBreaker(pick(options.failureThreshold, dependency, 5)),
    halfOpenAfter: pick(options.halfOpenAfterMs, dependency, 5000),
  });
  // Every failure counts here, except a timeout charged to a tenant's own breaker, its refusal, and
  // a caller that went away, which says nothing about the dependency.
  const breaker = circuitBreaker(
    handleWhen(
      (error) =>
        !(
          error instanceof TenantTimeoutError ||
          error instanceof CallerGoneError ||
          error instanceof BrokenCircuitError ||
          error instanceof IsolatedCircuitError
        ),
    ),
    breakerOptions(),
  );
  breaker.onStateChange((state) => events.breakerStateChanged(dependency, stateNames[state]));
  // A tenant's own breaker counts its timeouts; connection failures and 5xx are the dependency's alone.
  const tenantBreakers = new LRUCache<string, CircuitBreakerPolicy>({ max: maxTenantBreakers });
  const tenantBreaker = (tenantId: string) => {
    let tenant = tenantBreakers.get(tenantId);
    if (!tenant) {
      tenant = circuitBreaker(
        handleWhen((error) => error instanceof AttemptTimeoutError),
        breakerOptions(),
      );
      tenantBreakers.set(tenantId, tenant);
    }
    return tenant;
  };
  // The most recent answers, from two different callers (a tenant, or '' for calls made for none).
  const answered = { latest: { caller: '', at: -1 }, otherThanLatest: -1 };
  const noteAnswer = (caller: string) => {
    const at = performance.now();
    if (caller !== answered.latest.caller) answered.otherThanLatest = answered.latest.at;
    answered.latest = { caller, at };
  };
  /** Whether a caller other than this one got an answer after `since`: then the dependency is answering. */
  const answeredOthersSince = (caller: string, since: number) =>
    (answered.latest.caller === caller ? answered.otherThanLatest : answered.latest.at) > since;
  // The timeout is inside the breakers, so a hung dependency trips them like a failing one.
  const once = <T>(
    fn: (context: { signal: AbortSignal }) => Promise<T>,
    caller: string,
    tenant: CircuitBreakerPolicy | undefined,
    signal: AbortSignal | undefined,
  ) =>
    breaker.execute(async ({ signal: outer }) => {
      const started = performance.now();
      try {
        const value = await (tenant ? wrap(tenant, attemptTimeout) : attemptTimeout).execute(fn, outer);
        noteAnswer(caller);
        return value;
      } catch (error) {
        // Others were answered meanwhile: the slowness is this tenant's own, charged to its breaker only.
        if (tenant && error instanceof AttemptTimeoutError && answeredOthersSince(caller, started))
          throw new TenantTimeoutError(error);
        throw error;
      }
    }, signal);
  // Retrying a refused call would only wait for nothing: an open breaker ends the retries at once.
  const retries = retry(
    handleWhen(
      (error) =>
        !(
          error instanceof BrokenCircuitError ||
          error instanceof IsolatedCircuitError ||
          error instanceof CallerGoneError ||
          error instanceof NotRetriedError
        ),
    ),
    {
      maxAttempts: Math.max(0, pick(options.readAttempts, dependency, 3) - 1),
      backoff: new ExponentialBackoff({
        generator: decorrelatedJitterGenerator,
        initialDelay: pick(options.retryInitialDelayMs, dependency, 25),
        maxDelay: pick(options.retryMaxDelayMs, dependency, 500),
      }),
    },
  );
  retries.onRetry(() => events.retried(dependency));
  const refusing = (policy: { state: CircuitState }) =>
    policy.state === CircuitState.HalfOpen || policy.state === CircuitState.Isolated;

  return {
    dependency,
    state: () => stateNames[breaker.state],
    async run<T>(fn: (signal: AbortSignal) => Promise<T>, run: RunOptions): Promise<T> {
      // cockatiel queues callers behind a half-open trial; we refuse them instead, so a slow
      // dependency holds at most one caller (for at most one timeout) while it is being probed.
      const tenant = run.tenantId === undefined ? undefined : tenantBreaker(run.tenantId);
      if (refusing(breaker) || (tenant && refusing(tenant))) {
        throw new DependencyUnavailableError(dependency, new BrokenCircuitError(), true);
      }
      const started = performance.now();
      const attempt = async ({ signal }: { signal: AbortSignal }): Promise<Outcome<T>> => {
        try {
          // cockatiel's retry starts the next attempt after its backoff even if the caller left meanwhile.
          signal.throwIfAborted();
          return { value: await (run.stopsOnAbort ? fn(signal) : endedByAbort(fn(signal), signal)) };
        } catch (error) {
          if (run.isExpected?.(error)) return { expected: error };
          if (run.signal?.aborted && !isDeadline(run.signal.reason)) throw new CallerGoneError(error);
          // The attempt's own signal aborted: its timeout, or the caller's deadline, ended it.
          if (signal.aborted) throw new AttemptTimeoutError(error);
          throw error;
        }
      };
      const caller = run.tenantId ?? '';
      // `retryWhen` is asked after the breakers have counted the failure, about what `fn` threw.
      const retriedWhenWorthIt = async ({ signal }: { signal: AbortSignal }) => {
        try {
          return await once(attempt, caller, tenant, signal);
        } catch (error) {
          if (run.retryWhen && !run.retryWhen(thrownByCall(error))) throw new NotRetriedError(error);
          throw error;
        }
      };
      let outcome: Outcome<T>;
      try {
        outcome = await (run.idempotent
          ? retries.execute(retriedWhenWorthIt, run.signal)
          : once(attempt, caller, tenant, run.signal));
      } catch (error) {
        events.backendCall(dependency, run.operation, (performance.now() - started) / 1000, 'error');
        throw new DependencyUnavailableError(
          dependency,
          error instanceof NotRetriedError || error instanceof CallerGoneError ? error.cause : error,
          error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError,
        );
      }
      events.backendCall(dependency, run.operation, (performance.now() - started) / 1000, 'ok');
      if ('expected' in outcome) throw outcome.expected;
      return outcome.value;
    },
  };
}

export interface Resilience {
  /** The one policy for a dependency; the same name always gets the same breaker. */
  policy(dependency: string): DependencyPolicy;
  /** Breaker state of every dependency used so far, for readiness. */
  states(): Record<string, BreakerState>;
}

/** Breakers are per process and per dependency: one registry per service, created at startup. */
export function createResilience(options: ResilienceOptions = {}): Resilience {
  const policies = new Map<string, DependencyPolicy>();
  return {
    policy(dependency) {
      let policy = policies.get(dependency);
      if (!policy) {
        policy = createPolicy(dependency, options);
        policies.set(dependency, policy);
      }
      return policy;
    },
    states: () => Object.fromEntries([...policies].map(([name, policy]) => [name, policy.state()])),
  };
}

import { describe, expect, it } from 'vitest';
import { noOperationalEvents } from '../observability/events.ts';
import { createResilience, DependencyUnavailableError } from './policy.ts';

const failing = () => Promise.reject(new Error('connection refused'));
/** A call that never answers and ignores its signal: the timeout still answers its caller. */
const never = () => new Promise<never>(() => {});
/** A call that never answers, and stops (rejects) when its signal aborts, as the ports' reads do. */
const neverUntilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason));
  });

describe('dependency policy', () => {
  it('retries reads with backoff, never writes', async () => {
    const policy = createResilience({
      readAttempts: 3,
      retryInitialDelayMs: 1,
      failureThreshold: 100,
    }).policy('db');
    let reads = 0;
    await expect(
      policy.run(
        () => {
          reads++;
          return failing();
        },
        { idempotent: true, operation: 'read' },
      ),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(reads).toBe(3);
    let writes = 0;
    await expect(
      policy.run(
        () => {
          writes++;
          return failing();
        },
        { idempotent: false, operation: 'write' },
      ),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(writes).toBe(1);
  });

  it('times a hung call out inside the breaker, and an open breaker refuses in well under a millisecond', async () => {
    const changes: string[] = [];
    const policy = createResilience({
      timeoutMs: 50,
      failureThreshold: 2,
      readAttempts: 1,
      halfOpenAfterMs: 60_000,
      events: { ...noOperationalEvents, breakerStateChanged: (_, state) => changes.push(state) },
    }).policy('search-index');
    for (let call = 0; call < 2; call++) {
      const started = performance.now();
      await expect(policy.run(never, { idempotent: true, operation: 'search' })).rejects.toThrow(
        'unavailable',
      );
      expect(performance.now() - started).toBeLessThan(1000);
    }
    expect(policy.state()).toBe('open');
    expect(changes).toEqual(['open']);
    let reached = 0;
    const calls = 1000;
    const started = performance.now();
    for (let call = 0; call < calls; call++) {
      await policy
        .run(
          async () => {
            reached++;
          },
          { idempotent: true, operation: 'search' },
        )
        .catch((error: DependencyUnavailableError) => expect(error.breakerOpen).toBe(true));
    }
    expect(reached).toBe(0);
    expect((performance.now() - started) / calls).toBeLessThan(1);
  });

  it('lets one trial through when half-open and refuses the callers behind it at once', async () => {
    const policy = createResilience({
      timeoutMs: 200,
      failureThreshold: 1,
      readAttempts: 1,
      halfOpenAfterMs: 20,
    }).policy('db');
    await policy.run(failing, { idempotent: true, operation: 'read' }).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 30));
    const trial = policy.run(never, { idempotent: true, operation: 'read' });
    expect(policy.state()).toBe('half-open');
    const started = performance.now();
    await expect(policy.run(async () => 'queued', { idempotent: true, operation: 'read' })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(50);
    // The trial itself is bounded by the timeout, then the breaker opens again.
    await expect(trial).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(policy.state()).toBe('open');
    await new Promise((resolve) => setTimeout(resolve, 30));
    await expect(policy.run(async () => 'ok', { idempotent: true, operation: 'read' })).resolves.toBe('ok');
    expect(policy.state()).toBe('closed');
  });

  it('stops the attempt when its caller goes away: no retry after it, and the breaker does not count it', async () => {
    const policy = createResilience({
      timeoutMs: 60_000,
      failureThreshold: 1,
      readAttempts: 3,
      retryInitialDelayMs: 1,
    }).policy('search-index');
    const caller = new AbortController();
    let attempts = 0;
    const call = policy.run(
      (signal) => {
        attempts++;
        caller.abort();
        return neverUntilAborted(signal);
      },
      { idempotent: true, stopsOnAbort: true, operation: 'search', signal: caller.signal },
    );
    await expect(call).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(attempts).toBe(1);
    expect(policy.state()).toBe('closed');
  });

  it("counts a caller who left on no breaker, its tenant's own included", async () => {
    const policy = createResilience({ timeoutMs: 60_000, failureThreshold: 1, readAttempts: 1 }).policy(
      'subgraph:search',
    );
    const caller = new AbortController();
    const read = { idempotent: true, stopsOnAbort: true, operation: 'query', tenantId: 'acme' };
    const left = policy.run(
      (signal) => {
        caller.abort();
        return neverUntilAborted(signal);
      },
      { ...read, signal: caller.signal },
    );
    await expect(left).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(policy.run(async () => 'answer', read)).resolves.toBe('answer');
    expect(policy.state()).toBe('closed');
  });

  it('retries only the failures the call says are worth it, and counts the others', async () => {
    const policy = createResilience({ readAttempts: 3, retryInitialDelayMs: 1, failureThreshold: 4 }).policy(
      'subgraph:search',
    );
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    let attempts = 0;
    const run = (error: Error) =>
      policy
        .run(
          () => {
            attempts++;
            return Promise.reject(error);
          },
          {
            idempotent: true,
            operation: 'query',
            retryWhen: (failure) => (failure as { code?: string }).code === 'ECONNREFUSED',
          },
        )
        .catch((failure: DependencyUnavailableError) => failure);
    expect((await run(refused)).cause).toBe(refused);
    expect(attempts).toBe(3);
    attempts = 0;
    const timedOut = new Error('timed out');
    expect((await run(timedOut)).cause).toBe(timedOut);
    expect(attempts).toBe(1);
    expect(policy.state()).toBe('open');
  });

  it('ends an attempt that stops on abort only once it has stopped, and retries after that', async () => {
    const policy = createResilience({ timeoutMs: 30, readAttempts: 2, retryInitialDelayMs: 1 }).policy('db');
    const log: string[] = [];
    await expect(
      policy.run(
        async (signal) => {
          log.push('start');
          await neverUntilAborted(signal).catch(() => {});
          // Still cleaning up after the abort: the next attempt must not have started yet.
          await Promise.resolve();
          log.push('stopped');
          throw new Error('aborted');
        },
        { idempotent: true, stopsOnAbort: true, operation: 'search' },
      ),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(log).toEqual(['start', 'stopped', 'start', 'stopped']);
  });

  it('passes expected errors through without counting them as failures', async () => {
    const policy = createResilience({ failureThreshold: 1 }).policy('db');
    class Conflict extends Error {}
    for (let call = 0; call < 3; call++) {
      await expect(
        policy.run(() => Promise.reject(new Conflict()), {
          idempotent: true,
          operation: 'update',
          isExpected: (error) => error instanceof Conflict,
        }),
      ).rejects.toBeInstanceOf(Conflict);
    }
    expect(policy.state()).toBe('closed');
  });

  it('takes per-dependency options as values or functions of the name', async () => {
    const resilience = createResilience({
      failureThreshold: (name) => (name === 'redis' ? 1 : 10),
      readAttempts: 1,
    });
    await resilience
      .policy('redis')
      .run(failing, { idempotent: true, operation: 'get' })
      .catch(() => {});
    await resilience
      .policy('db')
      .run(failing, { idempotent: true, operation: 'get' })
      .catch(() => {});
    expect(resilience.states()).toEqual({ redis: 'open', db: 'closed' });
  });

  it("charges a tenant's timeouts to that tenant's breaker only: the others keep being served", async () => {
    const changes: string[] = [];
    const policy = createResilience({
      timeoutMs: 50,
      failureThreshold: 2,
      readAttempts: 2,
      retryInitialDelayMs: 1,
      halfOpenAfterMs: 60_000,
      events: { ...noOperationalEvents, breakerStateChanged: (_, state) => changes.push(state) },
    }).policy('subgraph:search');
    const read = (tenantId: string) => ({ idempotent: true, operation: 'query', tenantId });
    // The quiet tenant is answered while each of the noisy tenant's calls waits.
    const answeringQuiet = async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      await policy.run(async () => 'answer', read('quiet'));
    };
    for (let call = 0; call < 5; call++) {
      const noisy = expect(policy.run(never, read('noisy'))).rejects.toBeInstanceOf(
        DependencyUnavailableError,
      );
      await answeringQuiet();
      await noisy;
    }
    // The noisy tenant's own breaker is open: refused without a call.
    let reached = 0;
    const refused = await policy
      .run(async () => {
        reached++;
      }, read('noisy'))
      .catch((error: DependencyUnavailableError) => error);
    expect(refused).toMatchObject({ breakerOpen: true });
    expect(reached).toBe(0);
    // The shared breaker never saw those timeouts: every other tenant, and calls without one, still run.
    expect(policy.state()).toBe('closed');
    expect(changes).toEqual([]);
    await expect(policy.run(async () => 'answer', read('quiet'))).resolves.toBe('answer');
    await expect(policy.run(async () => 'answer', { idempotent: true, operation: 'query' })).resolves.toBe(
      'answer',
    );
  });

  it("counts a tenant's connection failures, and timeouts while no one else is answered, on the shared breaker", async () => {
    const failingPolicy = createResilience({ failureThreshold: 2, readAttempts: 1 }).policy(
      'subgraph:search',
    );
    for (const tenantId of ['a', 'b']) {
      await failingPolicy.run(failing, { idempotent: true, operation: 'query', tenantId }).catch(() => {});
    }
    expect(failingPolicy.state()).toBe('open');
    const hungPolicy = createResilience({ timeoutMs: 50, failureThreshold: 2, readAttempts: 1 }).policy(
      'subgraph:search',
    );
    for (const tenantId of ['a', 'a']) {
      await hungPolicy.run(never, { idempotent: true, operation: 'query', tenantId }).catch(() => {});
    }
    expect(hungPolicy.state()).toBe('open');
  });
});

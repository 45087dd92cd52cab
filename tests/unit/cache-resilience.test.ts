import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGenerationBumps } from '../../server/cache/generation-bumps.ts';
import { type Cache, createMemoryCache, resilientCache } from '../../server/cache/index.ts';
import { noOperationalEvents } from '../../server/observability/events.ts';
import { createResilience, DependencyUnavailableError } from '../../server/resilience/index.ts';

const policyOptions = { readAttempts: 3, retryInitialDelayMs: 1, failureThreshold: 100, timeoutMs: 200 };

/** A cache whose every call fails, recording which were made. */
function failingCache(calls: string[]): Cache {
  return new Proxy({} as Cache, {
    get: (_, method) =>
      method === 'name'
        ? 'failing'
        : async () => {
            calls.push(String(method));
            throw new Error('read ECONNRESET');
          },
  });
}

describe('the cache under the redis policy', () => {
  it('retries reads, never writes or increments, and fails each as DependencyUnavailableError', async () => {
    const calls: string[] = [];
    const cache = resilientCache(failingCache(calls), createResilience(policyOptions).policy('redis'));
    const everyCall = [
      () => cache.get('k'),
      () => cache.getMany(['k']),
      () => cache.readCounter('k'),
      () => cache.set('k', 'v', 60),
      () => cache.setMany([{ key: 'k', value: 'v' }], 60),
      () => cache.delete(['k']),
      () => cache.increment('k'),
      () => cache.setNewer('k', 1, 'v', 60),
    ];
    for (const call of everyCall) await expect(call()).rejects.toBeInstanceOf(DependencyUnavailableError);
    // An increment retried after a lost answer would bump twice; a set could land after a newer one.
    expect(calls).toEqual([
      ...['get', 'get', 'get'],
      ...['getMany', 'getMany', 'getMany'],
      ...['readCounter', 'readCounter', 'readCounter'],
      'set',
      'setMany',
      'delete',
      'increment',
      'setNewer',
    ]);
  });

  it('passes every call and its answer through to the cache', async () => {
    const inner = createMemoryCache();
    const cache = resilientCache(inner, createResilience(policyOptions).policy('redis'));
    expect(cache.name).toBe(inner.name);
    await cache.set('a', '1', 60);
    expect(await cache.get('a')).toBe('1');
    await cache.setMany([{ key: 'c', value: '3' }], 60);
    expect(await inner.get('c')).toBe('3');
    expect(await cache.getMany(['a', 'b'])).toEqual(['1', undefined]);
    await cache.delete(['a']);
    expect(await inner.get('a')).toBeUndefined();
    const started = Number(await cache.readCounter('n'));
    expect(await cache.increment('n')).toBe(started + 1);
    await cache.setNewer('v', 2, 'two', 60);
    await cache.setNewer('v', 1, 'one', 60);
    expect(await inner.get('v')).toBe('2:two');
  });

  it('reports each call to Redis under its own operation, for the backend-call metrics', async () => {
    const reported: string[] = [];
    const events = {
      ...noOperationalEvents,
      backendCall: (dependency: string, operation: string) => reported.push(`${dependency}.${operation}`),
    };
    const cache = resilientCache(
      createMemoryCache(),
      createResilience({ ...policyOptions, events }).policy('redis'),
    );
    await cache.get('k');
    await cache.getMany(['k']);
    await cache.set('k', 'v', 60);
    await cache.setMany([{ key: 'k', value: 'v' }], 60);
    await cache.delete(['k']);
    await cache.increment('n');
    await cache.readCounter('n');
    await cache.setNewer('v', 1, 'v', 60);
    expect(reported).toEqual(
      ['get', 'getMany', 'set', 'setMany', 'delete', 'increment', 'readCounter', 'setNewer'].map(
        (operation) => `redis.${operation}`,
      ),
    );
  });

  it('stops calling a cache that keeps failing: the open breaker answers instead', async () => {
    const calls: string[] = [];
    const resilience = createResilience({ ...policyOptions, failureThreshold: 2 });
    const cache = resilientCache(failingCache(calls), resilience.policy('redis'));
    await expect(cache.set('k', 'v', 60)).rejects.toThrow();
    await expect(cache.set('k', 'v', 60)).rejects.toThrow();
    expect(resilience.states().redis).toBe('open');
    await expect(cache.get('k')).rejects.toMatchObject({ breakerOpen: true });
    expect(calls).toEqual(['set', 'set']);
  });
});

describe('generation bumps', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Counts increments per key; fails them while `down`. */
  function countingCache() {
    const increments = new Map<string, number>();
    const state = { down: true };
    const cache = {
      async increment(key: string) {
        if (state.down) throw new Error('redis down');
        const next = (increments.get(key) ?? 0) + 1;
        increments.set(key, next);
        return next;
      },
    } as Cache;
    return { cache, increments, state };
  }

  it('keeps a failed bump owed, never throws, and retries it every retryMs until it lands, once', async () => {
    vi.useFakeTimers();
    const { cache, increments, state } = countingCache();
    const bumps = createGenerationBumps({ cache, key: (tenantId) => `gen:${tenantId}`, retryMs: 1000 });
    await bumps.bump(['a', 'b']);
    expect([bumps.owed('a'), bumps.owed('b'), bumps.owed('c')]).toEqual([true, true, false]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(bumps.owed('a')).toBe(true);
    state.down = false;
    await vi.advanceTimersByTimeAsync(999);
    // Not before retryMs: the bump is still owed.
    expect(bumps.owed('a')).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect([bumps.owed('a'), bumps.owed('b')]).toEqual([false, false]);
    expect(Object.fromEntries(increments)).toEqual({ 'gen:a': 1, 'gen:b': 1 });
    // Paid: nothing is retried any more.
    await vi.advanceTimersByTimeAsync(5000);
    expect(Object.fromEntries(increments)).toEqual({ 'gen:a': 1, 'gen:b': 1 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('pays an owed bump with the next bump, and bumps at once when Redis answers', async () => {
    vi.useFakeTimers();
    const { cache, increments, state } = countingCache();
    const bumps = createGenerationBumps({ cache, key: (tenantId) => `gen:${tenantId}` });
    await bumps.bump(['a']);
    state.down = false;
    await bumps.bump(['b']);
    expect(Object.fromEntries(increments)).toEqual({ 'gen:a': 1, 'gen:b': 1 });
    expect(bumps.owed('a')).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(Object.fromEntries(increments)).toEqual({ 'gen:a': 1, 'gen:b': 1 });
  });

  it('retries with one timer however many bumps fail, and not at all once stopped', async () => {
    vi.useFakeTimers();
    const { cache, state } = countingCache();
    let attempts = 0;
    const counted = {
      increment: (key: string) => {
        attempts++;
        return cache.increment(key);
      },
    } as Cache;
    const bumps = createGenerationBumps({ cache: counted, key: (tenantId) => tenantId, retryMs: 100 });
    await bumps.bump(['a']);
    await bumps.bump(['a']);
    expect(attempts).toBe(2);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(attempts).toBe(3);
    bumps.stop();
    expect(vi.getTimerCount()).toBe(0);
    await bumps.bump(['b']);
    expect(vi.getTimerCount()).toBe(0);
    state.down = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(bumps.owed('a')).toBe(true);
    // Stopped before anything failed, as when the cache closes first.
    state.down = true;
    const closedFirst = createGenerationBumps({ cache, key: (tenantId) => tenantId });
    closedFirst.stop();
    await closedFirst.bump(['c']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

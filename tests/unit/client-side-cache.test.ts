import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis, RedisOptions } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isGenerationKey,
  responseGenerationKey,
  searchGenerationKey,
  tenantKey,
} from '../../server/cache/cache.ts';
import { type ClientSideCache, withClientSideCaching } from '../../server/cache/client-side-cache.ts';
import { type Cache, createRedisCache, createRedisClient, resilientCache } from '../../server/cache/index.ts';
import { createLogger, type Logger } from '../../server/logger.ts';
import { createResilience } from '../../server/resilience/index.ts';
import type { DependencyPolicy } from '../../server/resilience/policy.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { redisReadCalls, useTestRedis } from '../helpers/redis-server.ts';

const logger = createLogger({ level: 'silent' });

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('client-side caching of generation counters (real redis-server)', () => {
  const redis = useTestRedis();
  const opened: ClientSideCache[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((cache) => cache.close()));
  });

  async function open(policy: DependencyPolicy = createResilience().policy('redis')) {
    const cache = withClientSideCaching({
      cache: resilientCache(createRedisCache({ redis: redis.client }), policy),
      redis: redis.client,
      maxSilenceMs: 300,
      isKept: isGenerationKey,
      policy,
      logger,
    });
    opened.push(cache);
    await until(() => cache.tracking);
    return cache;
  }

  it('keeps only the generation counters: no other key is mistaken for one', () => {
    expect(isGenerationKey(responseGenerationKey('acme'))).toBe(true);
    expect(isGenerationKey(searchGenerationKey('a:b'))).toBe(true);
    expect(isGenerationKey(tenantKey('acme', 'response', 'search-generation'))).toBe(false);
    expect(isGenerationKey(tenantKey('search-generation'))).toBe(false);
  });

  it('reads a generation from Redis once, then from process memory', async () => {
    const cache = await open();
    const key = searchGenerationKey('memory');
    await redis.client.set(key, '7');
    expect(await cache.get(key)).toBe('7');
    const before = await redisReadCalls(redis.client);
    for (let read = 0; read < 10; read++) expect(await cache.getMany([key])).toEqual(['7']);
    // The only read Redis saw is INFO's own count, which is not a GET.
    expect((await redisReadCalls(redis.client)) - before).toBe(0);
  });

  it('sees a write made through another connection, pushed by Redis', async () => {
    const cache = await open();
    const key = responseGenerationKey('pushed');
    expect(await cache.get(key)).toBeUndefined();
    await redis.client.incr(key);
    await until(async () => (await cache.get(key)) === '1', 1000);
  });

  it('reads its own writes at once, without waiting for the push', async () => {
    const cache = await open();
    const key = responseGenerationKey('own');
    expect(await cache.get(key)).toBeUndefined();
    const bumped = await cache.increment(key);
    expect(await cache.get(key)).toBe(String(bumped));
  });

  it('sends every other key to Redis', async () => {
    const cache = await open();
    const key = tenantKey('other', 'response', 'abc');
    await cache.set(key, 'body', 60);
    const before = await redisReadCalls(redis.client);
    expect(await cache.getMany([responseGenerationKey('other'), key])).toEqual([undefined, 'body']);
    expect(await cache.get(key)).toBe('body');
    expect((await redisReadCalls(redis.client)) - before).toBe(3);
  });

  it('does not keep a value read while an invalidation crossed it', async () => {
    const base = createResilience().policy('redis');
    let slowReads = false;
    // A read that takes long enough for another client's write to be pushed before its answer is used.
    const slow: DependencyPolicy = {
      dependency: 'redis',
      state: () => base.state(),
      async run(fn, options) {
        const value = await base.run(fn, options);
        if (slowReads) await sleep(100);
        return value;
      },
    };
    const cache = await open(slow);
    const key = searchGenerationKey('crossed');
    await redis.client.set(key, '1');
    slowReads = true;
    const read = cache.get(key);
    await sleep(20);
    await redis.client.set(key, '2');
    // The answer was true when read, so it is returned; but it was not kept.
    expect(await read).toBe('1');
    slowReads = false;
    expect(await cache.get(key)).toBe('2');
  });

  it('forgets every value when Redis goes away, and tracks again once it is back', async () => {
    const cache = await open();
    const key = searchGenerationKey('restart');
    await redis.client.set(key, '5');
    expect(await cache.get(key)).toBe('5');
    await redis.server.kill();
    await until(() => !cache.tracking);
    await expect(cache.get(key)).rejects.toThrow();
    // The new server is empty: a kept '5' would be a stale answer.
    await redis.server.restart();
    await until(() => cache.tracking && redis.client.status === 'ready', 5000);
    expect(await cache.get(key)).toBeUndefined();
    await redis.client.set(key, '6');
    await until(async () => (await cache.get(key)) === '6', 1000);
  });

  it('tracks again through a new invalidation connection when only that one is cut', async () => {
    const cache = await open();
    const key = searchGenerationKey('resubscribed');
    await redis.client.set(key, '1');
    expect(await cache.get(key)).toBe('1');
    await redis.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    // Long enough for ioredis to reconnect it (its first retry waits 50 to 100 ms).
    await sleep(300);
    await until(() => cache.tracking);
    // Kept again, then changed: only a push through the new connection can tell this process.
    await until(async () => (await cache.get(key)) === '1');
    await redis.client.set(key, '2');
    await until(async () => (await cache.get(key)) === '2', 1000);
  });

  it('stops serving kept values once Redis stops answering, though no connection has closed', async () => {
    const cache = await open(createResilience({ timeoutMs: 100, readAttempts: 1 }).policy('redis'));
    const key = searchGenerationKey('hung');
    await redis.client.set(key, '3');
    expect(await cache.get(key)).toBe('3');
    redis.server.freeze();
    try {
      await until(() => !cache.tracking, 1000);
      // Read from Redis again, which does not answer, rather than from a copy that may have missed a write.
      await expect(cache.get(key)).rejects.toThrow();
    } finally {
      redis.server.thaw();
    }
    await until(() => cache.tracking, 3000);
    expect(await cache.get(key)).toBe('3');
  });

  it('passes every write through to Redis, and reads each back at once, kept key or not', async () => {
    const cache = await open();
    expect(cache.name).toBe('redis');
    const kept = responseGenerationKey('writes');
    const other = tenantKey('writes', 'versioned', 'doc');
    await cache.set(kept, '10', 60);
    expect(await cache.get(kept)).toBe('10');
    expect(await redis.client.get(kept)).toBe('10');
    expect(await cache.increment(kept)).toBe(11);
    await cache.delete([kept]);
    expect(await cache.get(kept)).toBeUndefined();
    const started = await cache.readCounter(kept);
    expect(await redis.client.get(kept)).toBe(started);
    expect(await cache.get(kept)).toBe(started);
    await cache.setNewer(other, 2, 'two', 60);
    await cache.setNewer(other, 1, 'one', 60);
    expect(await cache.get(other)).toBe('2:two');
    await cache.setMany(
      [
        { key: kept, value: '20' },
        { key: other, value: 'batched' },
      ],
      60,
    );
    expect(await cache.getMany([kept, other])).toEqual(['20', 'batched']);
  });

  it('answers a read of kept copies, kept misses and other keys in the order asked', async () => {
    const cache = await open();
    const heldKey = searchGenerationKey('mixed-held');
    const missKey = searchGenerationKey('mixed-miss');
    const other = tenantKey('mixed', 'response', 'page');
    await redis.client.set(heldKey, '1');
    await redis.client.set(missKey, '2');
    await redis.client.set(other, 'body');
    expect(await cache.get(heldKey)).toBe('1');
    expect(await cache.getMany([other, missKey, heldKey, searchGenerationKey('absent')])).toEqual([
      'body',
      '2',
      '1',
      undefined,
    ]);
    // The kept miss was kept on the way: it is served from memory now.
    const before = await redisReadCalls(redis.client);
    expect(await cache.getMany([missKey, heldKey])).toEqual(['2', '1']);
    expect((await redisReadCalls(redis.client)) - before).toBe(0);
    // Asked beside another key, a kept copy still comes from memory: one read, of the other key.
    const beside = await redisReadCalls(redis.client);
    expect(await cache.getMany([heldKey, other])).toEqual(['1', 'body']);
    expect((await redisReadCalls(redis.client)) - beside).toBe(1);
  });

  it("forgets only the written key's copy: another tenant's generation is still read from memory", async () => {
    const cache = await open();
    const written = searchGenerationKey('invalidated');
    const untouched = searchGenerationKey('untouched');
    await redis.client.set(written, '1');
    await redis.client.set(untouched, '1');
    expect(await cache.getMany([written, untouched])).toEqual(['1', '1']);
    await redis.client.set(written, '2');
    await until(async () => (await cache.get(written)) === '2', 1000);
    const before = await redisReadCalls(redis.client);
    expect(await cache.get(untouched)).toBe('1');
    expect((await redisReadCalls(redis.client)) - before).toBe(0);
  });

  it('forgets every kept value when the database is flushed', async () => {
    const cache = await open();
    const key = responseGenerationKey('flushed');
    await redis.client.set(key, '4');
    expect(await cache.get(key)).toBe('4');
    await redis.client.flushall();
    await until(async () => (await cache.get(key)) === undefined, 1000);
  });

  it('stops following invalidations once closed, and closes both of its connections', async () => {
    const connections = async () =>
      String(await redis.client.client('LIST'))
        .trim()
        .split('\n').length;
    const before = await connections();
    const cache = await open();
    expect(await connections()).toBe(before + 2);
    await cache.close();
    opened.splice(opened.indexOf(cache), 1);
    expect(cache.tracking).toBe(false);
    await expect.poll(connections, { timeout: 5000 }).toBe(before);
  });

  it('reads kept keys under the shared policy as idempotent reads, so they are retried as the shared cache reads are', async () => {
    const base = createResilience().policy('redis');
    const asked: unknown[] = [];
    const recording: DependencyPolicy = {
      dependency: 'redis',
      state: () => base.state(),
      run(fn, options) {
        asked.push(options);
        return base.run(fn, options);
      },
    };
    const cache = await open(recording);
    asked.length = 0;
    expect(await cache.getMany([searchGenerationKey('policy')])).toEqual([undefined]);
    expect(asked).toEqual([{ idempotent: true, operation: 'getMany' }]);
  });
});

describe('client-side caching with each of its connections behind a fault proxy of its own (real redis-server)', () => {
  const redis = useTestRedis();
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const resource of opened.splice(0).reverse()) await resource.close();
  });

  /**
   * A cache whose tracked reads and whose invalidation link (the RESP2 pub/sub connection) each reach
   * Redis through their own proxy, so a test can cut or slow one of them. Writes and other readers go
   * straight to Redis. The silence bound is long: what these tests prove happens at once, not after it.
   */
  async function openBehindProxies(
    options: { invalidationDelayMs?: number; around?: (cache: Cache) => Cache; logger?: Logger } = {},
  ) {
    const target = { host: '127.0.0.1', port: redis.server.port };
    const reads = await startFaultProxy(target);
    const invalidations = await startFaultProxy(target);
    opened.push(reads, invalidations);
    if (options.invalidationDelayMs)
      await invalidations.set('delay', { delayMs: options.invalidationDelayMs });
    // A command timeout that a delayed link does not run into.
    const direct = createRedisClient({ url: redis.server.url, commandTimeoutMs: 10_000, logger });
    opened.push({ close: async () => direct.disconnect() });
    const shared = Object.create(direct, {
      duplicate: {
        value: (override: Partial<RedisOptions>) =>
          direct.duplicate({ ...override, port: (override.protocol === 2 ? invalidations : reads).port }),
      },
    }) as Redis;
    const policy = createResilience({ timeoutMs: 10_000 }).policy('redis');
    const around = options.around ?? ((cache) => cache);
    const cache = withClientSideCaching({
      cache: around(resilientCache(createRedisCache({ redis: direct }), policy)),
      redis: shared,
      maxSilenceMs: 60_000,
      isKept: isGenerationKey,
      policy,
      logger: options.logger ?? logger,
    });
    opened.push(cache);
    await until(() => cache.tracking, 5000);
    return { cache, reads, invalidations };
  }

  it('reads its own write at once when a read during the write kept the old value and the push is late', async () => {
    let duringWrite = async () => {};
    const { cache } = await openBehindProxies({
      invalidationDelayMs: 300,
      around: (inner) => ({
        ...inner,
        increment: async (key) => {
          await duringWrite();
          return inner.increment(key);
        },
      }),
    });
    const key = responseGenerationKey('read-during-write');
    await redis.client.set(key, '1');
    duringWrite = async () => {
      expect(await cache.get(key)).toBe('1');
    };
    expect(await cache.increment(key)).toBe(2);
    // Redis's push of the change is still held back by the proxy: only the write itself can drop the copy.
    expect(await cache.get(key)).toBe('2');
  });

  it.each([
    ['tracked connection', 'reads', 'reader-dropped'],
    ['invalidation link', 'invalidations', 'link-dropped'],
  ] as const)(
    'stops serving kept values as soon as the %s drops, and keeps them again once it is back',
    async (_, link, name) => {
      const proxies = await openBehindProxies();
      const { cache } = proxies;
      const key = searchGenerationKey(name);
      await redis.client.set(key, '1');
      expect(await cache.get(key)).toBe('1');
      // Redis forgets what a closed connection read, so it would never push a change to that copy.
      await proxies[link].set('refuse');
      await until(() => !cache.tracking);
      await redis.client.set(key, '2');
      expect(await cache.get(key)).toBe('2');
      await proxies[link].set('pass');
      await until(() => cache.tracking, 5000);
      expect(await cache.get(key)).toBe('2');
      await redis.client.set(key, '3');
      await until(async () => (await cache.get(key)) === '3', 1000);
    },
  );

  it('reads its own set, counter start, versioned write and delete at once while the push is late', async () => {
    const { cache } = await openBehindProxies({ invalidationDelayMs: 300 });
    const key = searchGenerationKey('own-writes');
    await redis.client.set(key, '1');
    expect(await cache.get(key)).toBe('1');
    await cache.set(key, '5', 60);
    expect(await cache.get(key)).toBe('5');
    await cache.delete([key]);
    expect(await cache.get(key)).toBeUndefined();
    const started = await cache.readCounter(key);
    expect(await cache.get(key)).toBe(started);
    await cache.setNewer(key, 9, 'newer', 60);
    expect(await cache.get(key)).toBe('9:newer');
  });

  it.each([
    {
      connection: 'invalidation',
      isIt: (override: Partial<RedisOptions>) => override.protocol === 2,
      command: 'ID',
      warning:
        'redis invalidation subscription failed; generations are read from redis until a retry succeeds',
    },
    {
      connection: 'tracked',
      isIt: (override: Partial<RedisOptions>) => override.protocol !== 2,
      command: 'TRACKING',
      warning:
        'redis client tracking failed to start; generations are read from redis until a retry succeeds',
    },
  ])(
    "keeps generations in process once set up, though the $connection connection's first setup timed out while the process was busy",
    async ({ isIt, command, warning }) => {
      const warnings: string[] = [];
      const capturing = createLogger({
        level: 'warn',
        destination: { write: (line: string) => warnings.push(JSON.parse(line).msg) },
      });
      const direct = createRedisClient({ url: redis.server.url, commandTimeoutMs: 100, logger });
      opened.push({ close: async () => direct.disconnect() });
      let stalled = false;
      const shared = Object.create(direct, {
        duplicate: {
          value: (override: Partial<RedisOptions>) => {
            const connection = direct.duplicate(override);
            if (!isIt(override)) return connection;
            const client = connection.client.bind(connection) as (...args: string[]) => Promise<unknown>;
            Object.assign(connection, {
              client: (...args: string[]) => {
                const reply = client(...args);
                // As while a process is busy starting: the reply is read only after the command timed out.
                if (!stalled && args[0] === command) {
                  stalled = true;
                  const busyUntil = performance.now() + 300;
                  while (performance.now() < busyUntil);
                }
                return reply;
              },
            });
            return connection;
          },
        },
      }) as Redis;
      const policy = createResilience().policy('redis');
      const cache = withClientSideCaching({
        cache: resilientCache(createRedisCache({ redis: direct }), policy),
        redis: shared,
        isKept: isGenerationKey,
        policy,
        logger: capturing,
      });
      opened.push(cache);
      await until(() => cache.tracking, 5000);
      expect(stalled).toBe(true);
      expect(warnings).toEqual([warning]);
      const key = searchGenerationKey(`busy-start-${command}`);
      await redis.client.set(key, '1');
      expect(await cache.get(key)).toBe('1');
      const reads = await redisReadCalls(redis.client);
      expect(await cache.get(key)).toBe('1');
      expect(await redisReadCalls(redis.client)).toBe(reads);
    },
  );

  it('logs no warning when nothing is wrong, though the invalidation link opens after the tracked one', async () => {
    const warnings: string[] = [];
    const capturing = createLogger({
      level: 'warn',
      destination: { write: (line: string) => warnings.push(JSON.parse(line).msg) },
    });
    const { cache } = await openBehindProxies({ invalidationDelayMs: 200, logger: capturing });
    expect(cache.tracking).toBe(true);
    expect(warnings).toEqual([]);
  });
});

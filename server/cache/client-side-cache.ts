import { type Redis, ReplyError } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../logger.ts';
import type { DependencyPolicy } from '../resilience/policy.ts';
import type { Cache } from './cache.ts';

export interface ClientSideCachingOptions {
  /** The shared cache (Redis under its policy): every key not kept here, and every write. */
  cache: Cache;
  /** The shared cache's client; the two connections this needs copy its settings. */
  redis: Redis;
  /** The keys kept in process: small, read often, written rarely (the generation counters). */
  isKept(key: string): boolean;
  /** Runs the reads of kept keys, as the shared cache's own reads run. */
  policy: DependencyPolicy;
  /** Kept keys held at most; the least recently read go first. Default 100,000. */
  maxKeys?: number;
  /** How often the invalidation connection pings Redis. Default 100 ms. */
  heartbeatMs?: number;
  /**
   * Kept values are served only while Redis answered that connection's
   * last ping within this. Default 500 ms: the longest a process cut off
   * from Redis (a blackholed link, no disconnect yet) serves copies that
   * may have missed an invalidation.
   */
  maxSilenceMs?: number;
  logger: Logger;
}

export interface ClientSideCache extends Cache {
  /** Whether kept keys are served from process memory now: Redis is tracking them for this process. */
  readonly tracking: boolean;
  close(): Promise<void>;
}

const invalidationChannel = '__redis__:invalidate';

/**
 * Redis client-side caching (CLIENT TRACKING) for a few keys: the value of
 * each kept key is read once, through a connection Redis tracks, and held in
 * process until Redis reports that someone changed it. A cached request then
 * reads its tenant's generations without a round trip, while a write by any
 * replica or service still reaches every process, pushed by Redis itself
 * rather than announced by each writer.
 *
 * Invalidations arrive on a second connection (RESP2 pub/sub, which ioredis
 * delivers; it drops RESP3 invalidation pushes). Kept values are served only
 * while both connections are up, tracking is on, and Redis has answered
 * that connection's heartbeat within `maxSilenceMs`; anything else clears
 * them and reads go to the shared cache as if this layer were absent. A read
 * whose answer may have crossed an invalidation in flight is used but not
 * kept. Writes this process makes to a kept key drop its copy before and
 * after, so this process reads its own writes without waiting for the push.
 * Another process sees a write once Redis has delivered the invalidation:
 * it is sent before the write is acknowledged, so in practice before any
 * caller can act on the write, but the two sockets are not ordered.
 */
export function withClientSideCaching(options: ClientSideCachingOptions): ClientSideCache {
  const { cache, redis, isKept, policy, logger, heartbeatMs = 100, maxSilenceMs = 500 } = options;
  const copies = createKeptCopies(options.maxKeys ?? 100_000, maxSilenceMs);
  // Retries are the caller's policy's business; these connections only follow the shared client's settings.
  const reader = redis.duplicate({ enableAutoPipelining: true });
  const subscriber = redis.duplicate({ protocol: 2, autoResubscribe: false, enableAutoPipelining: false });
  const invalidations = followInvalidations({ reader, subscriber, copies, logger, heartbeatMs });
  const getMany = readThroughCopies({ cache, reader, policy, isKept, copies });
  const write = writeAroundCopies(isKept, copies);

  return {
    name: cache.name,
    get tracking() {
      return copies.live();
    },
    get: async (key) => (await getMany([key]))[0],
    getMany,
    set: (key, value, ttlSeconds) => write([key], () => cache.set(key, value, ttlSeconds)),
    setMany: (entries, ttlSeconds) =>
      write(
        entries.map(({ key }) => key),
        () => cache.setMany(entries, ttlSeconds),
      ),
    delete: (keys) => write(keys, () => cache.delete(keys)),
    increment: (key) => write([key], () => cache.increment(key)),
    readCounter: (key) => write([key], () => cache.readCounter(key)),
    setNewer: (key, version, value, ttlSeconds) =>
      write([key], () => cache.setNewer(key, version, value, ttlSeconds)),
    async close() {
      invalidations.stop();
      await Promise.all(
        [reader, subscriber].map((connection) => connection.quit().catch(() => connection.disconnect())),
      );
    },
  };
}

interface KeptCopies {
  /** Raised by every invalidation and every change of connection state: a read that saw it change is not kept. */
  readonly epoch: number;
  get(key: string): { value: string | undefined } | undefined;
  set(key: string, value: string | undefined): void;
  forget(key: string): void;
  forgetAll(): void;
  trackingStarted(): void;
  trackingStopped(): void;
  /** Redis answered a heartbeat on the invalidation connection. */
  heard(): void;
  /** Whether kept values may be served now; the first call after a silence began drops them. */
  live(): boolean;
}

/** The values kept in process, and whether Redis's tracking still vouches for them. */
function createKeptCopies(maxKeys: number, maxSilenceMs: number): KeptCopies {
  const kept = new LRUCache<string, { value: string | undefined }>({ max: maxKeys });
  let epoch = 0;
  let tracking = false;
  let lastHeard = 0;
  let silent = false;
  const forgetAll = () => {
    epoch += 1;
    kept.clear();
  };
  return {
    get epoch() {
      return epoch;
    },
    get: (key) => kept.get(key),
    set: (key, value) => {
      kept.set(key, { value });
    },
    forget(key) {
      epoch += 1;
      kept.delete(key);
    },
    forgetAll,
    trackingStarted() {
      forgetAll();
      lastHeard = performance.now();
      silent = false;
      tracking = true;
    },
    trackingStopped() {
      tracking = false;
      forgetAll();
    },
    heard() {
      lastHeard = performance.now();
      // Copies kept before a silence may have missed an invalidation that never came.
      if (silent) forgetAll();
      silent = false;
    },
    live() {
      if (!tracking) return false;
      if (performance.now() - lastHeard <= maxSilenceMs) return !silent;
      if (!silent) forgetAll();
      silent = true;
      return false;
    },
  };
}

/**
 * Turns tracking on for the reader, redirected to the subscriber, whenever both are ready; applies the
 * invalidations Redis pushes; and pings the subscriber so a silent link stops kept values being served.
 */
function followInvalidations(connections: {
  reader: Redis;
  subscriber: Redis;
  copies: KeptCopies;
  logger: Logger;
  heartbeatMs: number;
}): { stop(): void } {
  const { reader, subscriber, copies, logger, heartbeatMs } = connections;
  let subscriberId: number | undefined;
  let closing = false;

  // One warning per run of failures: a setup retried while Redis is slow should not log every attempt.
  let warned = false;
  /**
   * A setup command that failed without Redis refusing it (a reply slower than the command timeout,
   * as while this process is busy starting) leaves the connection in an unknown state: it is
   * reconnected, and its ready handler starts over. A refusal (no CLIENT TRACKING before Redis 6,
   * an ACL) is final: generations are read from Redis.
   */
  function setupFailed(connection: Redis, error: unknown, refused: string, retrying: string) {
    const final = error instanceof ReplyError;
    if (!warned || final) logger.warn({ err: error }, final ? refused : retrying);
    warned = true;
    if (!final && !closing && connection.status === 'ready') connection.disconnect(true);
  }

  async function startTracking() {
    const id = subscriberId;
    if (id === undefined || closing || reader.status !== 'ready') return;
    try {
      await reader.client('TRACKING', 'ON', 'REDIRECT', id);
      // Only if nothing changed while the command was out: a newer subscriber redoes this.
      if (subscriberId === id && reader.status === 'ready') {
        copies.trackingStarted();
        warned = false;
      }
    } catch (error) {
      setupFailed(
        reader,
        error,
        'redis client tracking unavailable; generations are read from redis',
        'redis client tracking failed to start; generations are read from redis until a retry succeeds',
      );
    }
  }

  subscriber.on('ready', async () => {
    try {
      // CLIENT ID first: a RESP2 connection in subscribe mode takes no other command.
      const id = Number(await subscriber.client('ID'));
      await subscriber.subscribe(invalidationChannel);
      subscriberId = id;
      await startTracking();
    } catch (error) {
      setupFailed(
        subscriber,
        error,
        'redis invalidation subscription refused; generations are read from redis',
        'redis invalidation subscription failed; generations are read from redis until a retry succeeds',
      );
    }
  });
  subscriber.on('close', () => {
    subscriberId = undefined;
    copies.trackingStopped();
  });
  subscriber.on('messageBuffer', (channel: Buffer, keys: Buffer[] | Buffer | null) => {
    if (channel.toString() !== invalidationChannel) return;
    // A null payload is a flush of the whole database.
    if (keys === null) copies.forgetAll();
    else for (const key of Array.isArray(keys) ? keys : [keys]) copies.forget(key.toString());
  });
  // Pongs come on the same connection as invalidations, after those sent before them: a recent pong
  // means no invalidation older than it is still on its way.
  const heartbeat = setInterval(() => {
    if (subscriberId === undefined) return;
    subscriber.ping().then(
      () => copies.heard(),
      () => {},
    );
  }, heartbeatMs);
  heartbeat.unref();

  reader.on('ready', () => void startTracking());
  reader.on('close', () => copies.trackingStopped());
  // ioredis throws unhandled 'error' events; the shared client already reports Redis being down.
  reader.on('error', () => {});
  subscriber.on('error', () => {});

  return {
    stop() {
      closing = true;
      clearInterval(heartbeat);
      copies.trackingStopped();
    },
  };
}

/** Reads kept keys from their copies (or through the tracked reader, keeping the answer) and the rest from the cache. */
function readThroughCopies(sources: {
  cache: Cache;
  reader: Redis;
  policy: DependencyPolicy;
  isKept(key: string): boolean;
  copies: KeptCopies;
}): (keys: readonly string[]) => Promise<(string | undefined)[]> {
  const { cache, reader, policy, isKept, copies } = sources;

  async function readKept(keys: string[]): Promise<(string | undefined)[]> {
    const startedIn = copies.epoch;
    const values = (
      await policy.run(() => reader.mget(...keys), { idempotent: true, operation: 'getMany' })
    ).map((value) => value ?? undefined);
    if (copies.live() && copies.epoch === startedIn) {
      keys.forEach((key, index) => {
        copies.set(key, values[index]);
      });
    }
    return values;
  }

  return async function getMany(keys) {
    if (!copies.live()) return cache.getMany(keys);
    // The usual case on a cache hit: every key is a kept copy, so there is nothing to gather.
    const held = keys.map((key) => (isKept(key) ? copies.get(key) : undefined));
    if (held.every((copy) => copy !== undefined)) return held.map((copy) => copy?.value);
    const found = new Map<string, string | undefined>();
    const keptMisses: string[] = [];
    const others: string[] = [];
    keys.forEach((key, index) => {
      const copy = held[index];
      if (copy) found.set(key, copy.value);
      else (isKept(key) ? keptMisses : others).push(key);
    });
    const collect = async (missing: string[], read: (keys: string[]) => Promise<(string | undefined)[]>) => {
      if (missing.length === 0) return;
      const values = await read(missing);
      missing.forEach((key, index) => {
        found.set(key, values[index]);
      });
    };
    await Promise.all([collect(keptMisses, readKept), collect(others, (rest) => cache.getMany(rest))]);
    return keys.map((key) => found.get(key));
  };
}

/** A write to kept keys: this process must not read a value from before it, whatever the push's timing. */
function writeAroundCopies(isKept: (key: string) => boolean, copies: KeptCopies) {
  return async function write<T>(keys: readonly string[], run: () => Promise<T>): Promise<T> {
    const written = keys.filter(isKept);
    for (const key of written) copies.forget(key);
    try {
      return await run();
    } finally {
      for (const key of written) copies.forget(key);
    }
  };
}

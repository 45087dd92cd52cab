import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { redactedAddress } from '../startup-error.ts';

export interface RedisClientOptions {
  url: string;
  /** A command that takes longer fails. Default 250 ms: a cache slower than that is not worth waiting for. */
  commandTimeoutMs?: number;
  logger: Logger;
  /** A private CA for a rediss:// URL; without it, TLS trusts the system roots. */
  ca?: Buffer;
  /** Where the URL came from, named in the "unavailable" warning. Default `REDIS_URL`. */
  urlVariable?: string;
}

/**
 * A client that fails fast and heals by itself: no offline queue and no
 * per-command retries (a command while disconnected fails at once, and the
 * caller goes to the backend), while the reconnect strategy keeps trying in
 * the background with capped, jittered backoff.
 */
export function createRedisClient({
  url,
  commandTimeoutMs = 250,
  logger,
  urlVariable = 'REDIS_URL',
  ca,
}: RedisClientOptions): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(1000, commandTimeoutMs * 4),
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000) * (0.5 + Math.random() / 2),
    lazyConnect: false,
    // Commands issued in the same tick (a request's rate-limit token and cache read, and those of
    // concurrent requests) leave in one write, so a busy gateway makes far fewer syscalls.
    enableAutoPipelining: true,
    ...(ca ? { tls: { ca } } : {}),
  });
  let reported = false;
  // Without a listener, ioredis would throw connection errors as unhandled 'error' events.
  redis.on('error', (error: Error) => {
    // One line that says what to check; the service keeps running, so a stack would only be noise.
    if (!reported)
      logger.warn(
        { reason: error.message },
        `redis at ${redactedAddress(url)} (${urlVariable}) is unavailable; serving without it`,
      );
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) logger.info('redis available again');
    reported = false;
    void warnOfEvictedCounters(redis, logger);
  });
  return redis;
}

/**
 * Generation counters have no TTL, and every cached entry has one. A policy
 * that evicts keys without a TTL (`allkeys-*`) can drop a counter, which then
 * reads 0 again and brings back everything cached under its old generations.
 * INFO rather than CONFIG GET, which managed Redis services often disable.
 */
async function warnOfEvictedCounters(redis: Redis, logger: Logger) {
  const info = await redis.info('memory').catch(() => '');
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (policy?.startsWith('allkeys-')) {
    logger.error(
      { maxmemoryPolicy: policy },
      'redis may evict generation counters (maxmemory-policy allkeys-*), which would serve responses cached before a write; use volatile-lru or noeviction',
    );
  }
}

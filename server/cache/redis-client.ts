import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

export interface RedisClientOptions {
  url: string;
  /** A command that takes longer fails. Default 250 ms: a cache slower than that is not worth waiting for. */
  commandTimeoutMs?: number;
  logger: Logger;
}

/**
 * A client that fails fast and heals by itself: no offline queue and no
 * per-command retries (a command while disconnected fails at once, and the
 * caller goes to the backend), while the reconnect strategy keeps trying in
 * the background with capped, jittered backoff.
 */
export function createRedisClient({ url, commandTimeoutMs = 250, logger }: RedisClientOptions): Redis {
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
  });
  let reported = false;
  // Without a listener, ioredis would throw connection errors as unhandled 'error' events.
  redis.on('error', (error: Error) => {
    if (!reported) logger.warn({ err: error }, 'redis unavailable; serving without it');
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) logger.info('redis available again');
    reported = false;
  });
  return redis;
}

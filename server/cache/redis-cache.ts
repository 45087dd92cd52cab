import type { Redis } from 'ioredis';
import type { Cache } from './cache.ts';

/** The cache on a Redis client that the caller built (see `createRedisClient`) and closes. */
export function createRedisCache({ redis }: { redis: Redis }): Cache {
  return {
    name: 'redis',
    async get(key) {
      return (await redis.get(key)) ?? undefined;
    },
    async getMany(keys) {
      if (keys.length === 0) return [];
      return (await redis.mget(...keys)).map((value) => value ?? undefined);
    },
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, 'EX', Math.max(1, Math.round(ttlSeconds)));
    },
    async delete(keys) {
      if (keys.length > 0) await redis.del(...keys);
    },
    increment: (key) => redis.incr(key),
  };
}

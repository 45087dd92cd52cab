import type { Redis } from 'ioredis';
import { type Cache, counterEpoch } from './cache.ts';

/**
 * Lua, so that each runs atomically on the server: no other client's command lands between its steps.
 * `numberOfKeys` undefined: the caller passes the key count as the first argument.
 */
const scripts: Record<string, { numberOfKeys?: number; lua: string }> = {
  // KEYS[1] counter; ARGV[1] epoch for a missing counter.
  quarryIncrement: {
    numberOfKeys: 1,
    lua: `
    redis.call('SET', KEYS[1], ARGV[1], 'NX')
    return redis.call('INCR', KEYS[1])`,
  },
  quarryReadCounter: {
    numberOfKeys: 1,
    lua: `
    redis.call('SET', KEYS[1], ARGV[1], 'NX')
    return redis.call('GET', KEYS[1])`,
  },
  // KEYS entries; ARGV[i] the value of KEYS[i], then the TTL in seconds. One command for a page of entities.
  quarrySetMany: {
    lua: `
    local ttl = ARGV[#KEYS + 1]
    for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i], 'EX', ttl) end
    return #KEYS`,
  },
  // KEYS[1] entry; ARGV version, value, TTL in seconds. Stored as "version:value" (see versionedValue).
  quarrySetNewer: {
    numberOfKeys: 1,
    lua: `
    local current = redis.call('GET', KEYS[1])
    if current then
      local held = tonumber(string.match(current, '^(%d+):'))
      if held and held > tonumber(ARGV[1]) then return 0 end
    end
    redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])
    return 1`,
  },
};

type ScriptedRedis = Redis & {
  quarryIncrement(key: string, epoch: number): Promise<number>;
  quarryReadCounter(key: string, epoch: number): Promise<string>;
  quarrySetNewer(key: string, version: number, value: string, ttlSeconds: number): Promise<number>;
  quarrySetMany(keyCount: number, ...keysThenValuesThenTtl: (string | number)[]): Promise<number>;
};

/** The cache on a Redis client that the caller built (see `createRedisClient`) and closes. */
export function createRedisCache({ redis }: { redis: Redis }): Cache {
  // defineCommand sends EVALSHA, and the script itself only when the server does not know it yet.
  for (const [name, script] of Object.entries(scripts)) {
    if (!(name in redis)) redis.defineCommand(name, script);
  }
  const scripted = redis as ScriptedRedis;
  const ttl = (seconds: number) => Math.max(1, Math.round(seconds));
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
      await redis.set(key, value, 'EX', ttl(ttlSeconds));
    },
    async setMany(entries, ttlSeconds) {
      if (entries.length === 0) return;
      await scripted.quarrySetMany(
        entries.length,
        ...entries.map(({ key }) => key),
        ...entries.map(({ value }) => value),
        ttl(ttlSeconds),
      );
    },
    async delete(keys) {
      if (keys.length > 0) await redis.del(...keys);
    },
    increment: (key) => scripted.quarryIncrement(key, counterEpoch()),
    readCounter: (key) => scripted.quarryReadCounter(key, counterEpoch()),
    async setNewer(key, version, value, ttlSeconds) {
      await scripted.quarrySetNewer(key, version, value, ttl(ttlSeconds));
    },
  };
}

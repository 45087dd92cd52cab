import type { Redis } from 'ioredis';
import type { LeasingRateLimitStore } from './rate-limit-store.ts';

/**
 * The token bucket as one Lua script, so the read-refill-take-write is
 * atomic across gateway replicas. It takes up to ARGV[3] tokens at once
 * (a lease, see `withLeases`). It uses the Redis clock (TIME), so replicas
 * with skewed clocks agree. Idle buckets expire once full again.
 * Not rate-limiter-flexible: its Redis limiters count fixed windows, and a lease
 * needs a bucket that grants several tokens at once and refills continuously.
 */
const tokenBucket = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local granted = math.min(wanted, math.floor(tokens))
local wait = 0
if granted >= 1 then
  tokens = tokens - granted
else
  granted = 0
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {granted, wait}
`;

type TokenBucketClient = Redis & {
  quarryTokenBucket(key: string, perSecond: number, burst: number, wanted: number): Promise<[number, number]>;
};

/** The shared token buckets: one round trip per take, of one token or of a lease of several. */
export function createRedisRateLimitStore({ redis }: { redis: Redis }): LeasingRateLimitStore {
  // A defined command runs by EVALSHA (the script's hash, loaded once) instead of sending the script each time.
  if (!('quarryTokenBucket' in redis))
    redis.defineCommand('quarryTokenBucket', { numberOfKeys: 1, lua: tokenBucket });
  const client = redis as TokenBucketClient;
  const takeUpTo: LeasingRateLimitStore['takeUpTo'] = async (key, limit, wanted) => {
    const [granted, waitMs] = await client.quarryTokenBucket(key, limit.perSecond, limit.burst, wanted);
    return { granted, retryAfterSeconds: granted >= 1 ? 0 : Math.max(1, Math.ceil(waitMs / 1000)) };
  };
  return {
    takeUpTo,
    async consume(key, limit) {
      const { granted, retryAfterSeconds } = await takeUpTo(key, limit, 1);
      return { allowed: granted === 1, retryAfterSeconds };
    },
  };
}

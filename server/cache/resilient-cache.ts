import type { DependencyPolicy } from '../resilience/policy.ts';
import type { Cache } from './cache.ts';

/**
 * Runs every cache call under the `redis` policy: a short timeout inside a
 * breaker, so while Redis is down the breaker is open and each call fails in
 * microseconds instead of waiting for a command timeout. Reads are retried
 * (idempotent); writes and increments are not.
 */
export function resilientCache(cache: Cache, policy: DependencyPolicy): Cache {
  return {
    name: cache.name,
    get: (key) => policy.run(() => cache.get(key), { idempotent: true, operation: 'get' }),
    getMany: (keys) => policy.run(() => cache.getMany(keys), { idempotent: true, operation: 'getMany' }),
    set: (key, value, ttl) =>
      policy.run(() => cache.set(key, value, ttl), { idempotent: false, operation: 'set' }),
    setMany: (entries, ttl) =>
      policy.run(() => cache.setMany(entries, ttl), { idempotent: false, operation: 'setMany' }),
    delete: (keys) => policy.run(() => cache.delete(keys), { idempotent: false, operation: 'delete' }),
    increment: (key) => policy.run(() => cache.increment(key), { idempotent: false, operation: 'increment' }),
    // Idempotent: a retry that finds the counter started reads the same value.
    readCounter: (key) =>
      policy.run(() => cache.readCounter(key), { idempotent: true, operation: 'readCounter' }),
    setNewer: (key, version, value, ttl) =>
      policy.run(() => cache.setNewer(key, version, value, ttl), {
        idempotent: false,
        operation: 'setNewer',
      }),
  };
}

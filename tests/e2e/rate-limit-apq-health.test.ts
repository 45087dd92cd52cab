import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../server/cache/index.ts';
import { createLogger } from '../../server/logger.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

describe('rate limiting, APQ and health with Redis', () => {
  let redisServer: TestRedis;
  let redis: Redis;
  let stack: TestStack;
  beforeAll(async () => {
    redisServer = await startTestRedis();
    redis = createRedisClient({ url: redisServer.url, logger: createLogger({ level: 'silent' }) });
    if (redis.status !== 'ready') await once(redis, 'ready');
    stack = await startTestStack({
      env: {
        REDIS_URL: redisServer.url,
        // A burst of 3 and one token per 1000 s, so the fourth request is refused however slowly the
        // machine sends the first three (at 0.5/s a busy machine let the bucket refill in time).
        RATE_LIMIT_TIERS: 'standard=0.001/3,premium=100/100',
        RATE_LIMIT_FALLBACK_FRACTION: '0.34',
        // The limit is what is tested, not Redis's latency: on a loaded machine a 250 ms command timeout
        // sent some requests to the in-process fallback bucket, and the fourth found tokens left in Redis.
        REDIS_COMMAND_TIMEOUT_MS: '5000',
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
    redis.disconnect();
    await redisServer.stop();
  });

  const ask = (token: string) => stack.graphql('{ suggest(prefix: "a") }', { token });

  it('refuses a tenant over its tier limit with RATE_LIMITED, 429 and a retry-after hint; others are untouched', async () => {
    const token = await stack.token('tenant-limited');
    for (let request = 0; request < 3; request++) expect((await ask(token)).errors).toBeUndefined();
    const response = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ suggest(prefix: "a") }' }),
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await response.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(body.errors[0]!.extensions).toEqual({
      code: 'RATE_LIMITED',
      retryAfterSeconds: expect.any(Number),
    });

    expect((await ask(await stack.token('tenant-neighbour'))).errors).toBeUndefined();
    const premium = await stack.token('tenant-premium', { tier: 'premium' });
    for (let request = 0; request < 6; request++) expect((await ask(premium)).errors).toBeUndefined();
    // The bucket lives in Redis, under the tenant's key, shared by every gateway replica.
    expect(await redis.exists('quarry:tenant-limited:rate')).toBe(1);
  });

  it('falls back to a stricter in-process limit while Redis is down', async () => {
    await redisServer.kill();
    try {
      const token = await stack.token('tenant-fallback');
      // A third of the burst of 3: one request, then refusals, and never an error for Redis itself.
      expect((await ask(token)).errors).toBeUndefined();
      const refused = await ask(token);
      expect(refused.status).toBe(429);
      expect(refused.errors![0]!.extensions!.code).toBe('RATE_LIMITED');
    } finally {
      await redisServer.restart();
    }
  });

  it('stores automatic persisted queries in Redis', async () => {
    // Premium: the retries below, while Redis comes back, must not spend the standard tier's burst of 3.
    const token = await stack.token('tenant-apq', { tier: 'premium' });
    const query = '{ suggest(prefix: "apq") }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const unknown = await postGraphQL(stack.gatewayUrl, { extensions }, token);
    expect(unknown.errors![0]!.extensions!.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    // The restarted Redis may need a moment before the gateway's client and breaker are back.
    let registered: Awaited<ReturnType<typeof postGraphQL>> | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      registered = await postGraphQL(stack.gatewayUrl, { query, extensions }, token);
      if (
        (await redis.status) === 'ready' &&
        (await redis.exists(`quarry:tenant-apq:apq:${sha256Hash}`).catch(() => 0))
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(registered!.errors).toBeUndefined();
    expect(await redis.get(`quarry:tenant-apq:apq:${sha256Hash}`)).toBe(query);
    const byHash = await postGraphQL(stack.gatewayUrl, { extensions }, token);
    expect(byHash.errors).toBeUndefined();
  });

  it('serves /health/live and /health/ready on every service, the indexer included', async () => {
    const urls = {
      gateway: stack.gatewayUrl,
      documents: stack.documentsUrl,
      search: stack.searchUrl,
      indexer: stack.indexerUrl,
    };
    const expected: Record<string, string[]> = {
      gateway: ['identityProvider', 'redis', 'subgraph:documents', 'subgraph:search'],
      documents: ['documents-store', 'documents-store-writes', 'identityProvider', 'redis'],
      search: ['identityProvider', 'redis', 'search-index'],
      indexer: ['documents-store', 'documents-store-writes', 'redis', 'search-index'],
    };
    for (const [service, url] of Object.entries(urls)) {
      expect((await fetch(new URL('/health/live', url))).status).toBe(200);
      const ready = await fetch(new URL('/health/ready', url));
      const body = (await ready.json()) as {
        status: string;
        dependencies: Record<string, { detail?: object }>;
      };
      expect(ready.status, service).toBe(200);
      expect(body.status).toBe('ready');
      expect(Object.keys(body.dependencies).sort(), service).toEqual(expected[service]);
      const { identityProvider, ...behindBreakers } = body.dependencies;
      for (const dependency of Object.values(behindBreakers))
        expect(dependency.detail).toHaveProperty('breaker');
      // The test stack's development key is a file: always usable.
      if (service !== 'indexer') {
        expect(identityProvider?.detail).toEqual({ issuers: { 'quarry-dev': 'file' } });
      }
    }
  });
});

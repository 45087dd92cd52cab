import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.ts';
import { startGatewayReplica } from '../helpers/gateway-replica.ts';
import { useTestRedis } from '../helpers/redis-server.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';
import { eventually, readiness } from '../resilience/harness.ts';

/** What this replica asks of Redis, by command: reads, token-bucket takes and writes. */
async function redisCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return [...stats.matchAll(/cmdstat_(get|mget|evalsha|set|incr):calls=(\d+)/g)]
    .map((match) => Number(match[2]))
    .reduce((sum, calls) => sum + calls, 0);
}

/**
 * Two gateway replicas over one Redis and the same subgraphs, as in
 * production. Each keeps hot responses and the tenants' generations in
 * process, so a hit costs no round trip; a write through either replica
 * must still be visible through the other on the very next request.
 */
describe('response cache across gateway replicas (real redis-server)', () => {
  const env = {
    RESPONSE_CACHE_TTL_SECONDS: '30',
    // A lease holds 10 ms of refill: 1,000 tokens, so hits need no round trip for their token either.
    RATE_LIMIT_TIERS: 'standard=100000/100000',
    // Kept generations count as current while the tracking connection was heard from within a heartbeat
    // plus a command timeout; 250 ms let a starved test machine drop tracking between two probes.
    REDIS_COMMAND_TIMEOUT_MS: '2000',
  };
  const title = (text: string) => `{ documents(ids: ["replica-1"]) { id title } }${text}`;
  const redis = useTestRedis();
  let stack: TestStack;
  let second: RunningGateway;
  let token: string;

  const ask = async (url: string, query = title('')) =>
    (await stack.graphql<{ documents: { title: string }[] }>(query, { token, url })).data?.documents[0]
      ?.title;

  /** Another gateway replica on the same Redis and subgraphs; `overrides` make it a different deployment. */
  const startReplica = (overrides: Record<string, string> = {}) =>
    startGatewayReplica(stack, { REDIS_URL: redis.server.url, ...env, ...overrides });

  beforeAll(async () => {
    stack = await startTestStack({ env: { ...env, REDIS_URL: redis.server.url } });
    second = await startReplica();
    token = await stack.token('tenant-replicas');
    await stack.graphql(
      'mutation { createDocument(input: { title: "First title", body: "granite" }) { id } }',
      { token },
    );
    await stack.settle();
    await eventually(async () => {
      for (const url of [stack.gatewayUrl, second.url]) {
        const redisState = (await readiness(url)).body.dependencies.redis?.detail;
        expect(redisState?.connection).toBe('ready');
        // Kept generations are being served: readiness says so, for operators.
        expect(redisState?.clientTracking).toBe(true);
      }
    });
  }, 60_000);
  afterAll(async () => {
    await second.stop();
    await stack.stop();
  });

  it('answers repeated hits from the replica itself, without a round trip to Redis', async () => {
    const id = await stack.graphql<{ createDocument: { id: string } }>(
      'mutation { createDocument(input: { title: "Hot title", body: "granite" }) { id } }',
      { token },
    );
    const query = `{ documents(ids: ["${id.data?.createDocument.id}"]) { id title } }`;
    // Until the entry is stored, kept in process, and the replica holds a lease of tokens.
    await eventually(async () => {
      const before = await redisCalls(redis.client);
      expect(await ask(second.url, query)).toBe('Hot title');
      expect((await redisCalls(redis.client)) - before).toBe(0);
    });
    const hits = 20;
    const before = await redisCalls(redis.client);
    for (let hit = 0; hit < hits; hit++) expect(await ask(second.url, query)).toBe('Hot title');
    // Not exactly zero: when a busy machine stretches the hits past a second, the token lease's top-up
    // (near the end of its lifetime) and the entry's background refresh each cost a call. A hit that
    // went to Redis itself would cost at least one per hit.
    expect((await redisCalls(redis.client)) - before).toBeLessThan(hits / 2);
  });

  it('a write through one replica is seen through the other on the next request', async () => {
    const { data } = await stack.graphql<{ createDocument: { id: string } }>(
      'mutation { createDocument(input: { title: "Version 1", body: "granite" }) { id } }',
      { token },
    );
    const id = data?.createDocument.id;
    const query = `{ documents(ids: ["${id}"]) { id title } }`;
    for (let version = 2; version <= 6; version++) {
      // Cached and kept in process on the second replica.
      await eventually(async () => {
        const before = await redisCalls(redis.client);
        expect(await ask(second.url, query)).toBe(`Version ${version - 1}`);
        expect((await redisCalls(redis.client)) - before).toBe(0);
      });
      const updated = await stack.graphql(
        `mutation { updateDocument(id: "${id}", input: { title: "Version ${version}" }) { id } }`,
        { token },
      );
      expect(updated.errors).toBeUndefined();
      // No waiting: the first replica's generation bump reached the second before the write was acknowledged.
      expect(await ask(second.url, query)).toBe(`Version ${version}`);
    }
  });

  it("a search kept on one replica is dropped once the indexer has applied another replica's write", async () => {
    const search = '{ search(query: "porphyry") { total hits { document { title } } } }';
    const total = async () =>
      (await stack.graphql<{ search: { total: number } }>(search, { token, url: second.url })).data?.search
        .total;
    expect(await total()).toBe(0);
    await eventually(async () => {
      const before = await redisCalls(redis.client);
      expect(await total()).toBe(0);
      expect((await redisCalls(redis.client)) - before).toBe(0);
    });
    await stack.graphql(
      'mutation { createDocument(input: { title: "Porphyry", body: "porphyry" }) { id } }',
      { token },
    );
    await stack.settle();
    expect(await total()).toBe(1);
  });

  it('never serves an entry to a replica that would refuse its request (a rolling deploy that tightens a limit)', async () => {
    const aliased = '{ found: search(query: "granite") { total } }';
    const askAliased = (url: string) => stack.graphql<{ found: unknown }>(aliased, { token, url });
    await eventually(async () => {
      const before = await redisCalls(redis.client);
      expect((await askAliased(second.url)).data?.found).toBeDefined();
      expect((await redisCalls(redis.client)) - before).toBe(0);
    });
    const tightened = await startReplica({ LIMIT_MAX_ALIASES: '0' });
    try {
      const refused = await askAliased(tightened.url);
      expect(refused.data).toBeUndefined();
      expect(refused.errors?.[0]?.extensions?.code).toBe('OPERATION_LIMIT_EXCEEDED');
    } finally {
      await tightened.stop();
    }
  });
});

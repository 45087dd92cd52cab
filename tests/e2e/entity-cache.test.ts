import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.ts';
import { startGatewayReplica } from '../helpers/gateway-replica.ts';
import { sampleValue, scrape } from '../helpers/prometheus.ts';
import { useTestRedis } from '../helpers/redis-server.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

interface LogLine {
  msg: string;
  service?: string;
  operation?: string | null;
}

interface Page {
  search: { hits: { document: { id: string; title: string } }[] };
}

/** A named operation, so the gateway's `_entities` fetches to the documents subgraph are named after it. */
const page = `query EntityPage($query: String!, $first: Int!) {
  search(query: $query, first: $first) { hits { document { id title } } }
}`;

/**
 * The gateway's entity cache, through the whole stack: with the response
 * cache off (every search reaches the gateway's plan) and on (the entity
 * cache then takes the generations the response cache read).
 */
describe.each([
  { responseCache: 'off', ttl: '0' },
  { responseCache: 'on', ttl: '30' },
])('entity cache at the gateway, response cache $responseCache', ({ ttl }) => {
  const raw: string[] = [];
  let stack: TestStack;
  let token: string;

  /** `_entities` calls the documents subgraph answered, as its request log counts them. */
  const entityFetches = () =>
    raw
      .map((line) => JSON.parse(line) as LogLine)
      .filter(
        (line) =>
          line.service === 'documents' &&
          line.msg === 'request' &&
          line.operation?.startsWith('EntityPage__documents__'),
      ).length;

  const entityLookups = async (outcome: 'hit' | 'miss') =>
    sampleValue(
      await scrape(stack.gatewayUrl.replace(/\/graphql$/, '/metrics')),
      'quarry_cache_lookups_total',
      {
        cache: 'entity',
        outcome,
      },
    ) ?? 0;

  const search = async (query: string, first: number, as = token) => {
    const result = await stack.graphql<Page>(page, { variables: { query, first }, token: as });
    expect(result.errors).toBeUndefined();
    return result.data!.search.hits.map((hit) => hit.document);
  };

  beforeAll(async () => {
    stack = await startTestStack({
      env: { RESPONSE_CACHE_TTL_SECONDS: ttl, ENTITY_CACHE_TTL_SECONDS: '60' },
      logDestination: { write: (line: string) => raw.push(line) },
    });
    token = await stack.token('tenant-entities');
    for (const title of ['Quartz one', 'Quartz two', 'Quartz three']) {
      await stack.graphql(
        `mutation { createDocument(input: { title: "${title}", body: "quartz" }) { id } }`,
        {
          token,
        },
      );
    }
    await stack.settle();
  });
  afterAll(() => stack.stop());

  it('a second page of the same documents makes no _entities call to the documents subgraph', async () => {
    const before = entityFetches();
    const [hitsBefore, missesBefore] = [await entityLookups('hit'), await entityLookups('miss')];
    const first = await search('quartz', 10);
    expect(first.map((document) => document.title).sort()).toEqual([
      'Quartz one',
      'Quartz three',
      'Quartz two',
    ]);
    expect(entityFetches() - before).toBe(1);
    // Other variables: a different request to the response cache, the same documents to the entity cache.
    const second = await search('quartz', 20);
    expect(second).toEqual(first);
    expect(entityFetches() - before).toBe(1);
    expect((await entityLookups('miss')) - missesBefore).toBe(3);
    expect((await entityLookups('hit')) - hitsBefore).toBe(3);
  });

  it('after a document is updated, the next search page shows the new title', async () => {
    const [target] = await search('quartz', 10);
    const cached = await search('quartz', 11);
    expect(cached[0]).toEqual(target);
    const updated = await stack.graphql(
      'mutation ($id: ID!) { updateDocument(id: $id, input: { title: "Quartz renamed" }) { version } }',
      { variables: { id: target!.id }, token },
    );
    expect(updated.errors).toBeUndefined();
    // The very next page, without waiting for the indexer: the hits are the same ids, their titles new.
    for (const first of [10, 11]) {
      const next = await search('quartz', first);
      expect(next.find((document) => document.id === target!.id)?.title).toBe('Quartz renamed');
    }
  });

  it('two tenants with the same document id never share an entry', async () => {
    const tenants = ['tenant-entities-x', 'tenant-entities-y'];
    for (const tenantId of tenants) {
      const document = { title: `Basalt of ${tenantId}`, body: 'basalt', tags: [], author: null };
      await stack.store.create(tenantId, { ...document, status: 'PUBLISHED' }, 'shared-id');
    }
    await stack.settle();
    for (const first of [5, 6, 7]) {
      for (const tenantId of tenants) {
        const hits = await search('basalt', first, await stack.token(tenantId));
        expect(hits).toEqual([{ id: 'shared-id', title: `Basalt of ${tenantId}` }]);
      }
    }
  });
});

/**
 * Two gateway replicas over one real redis-server: entities cached through
 * one are in Redis for both, and a write through the other ends them before
 * it is acknowledged.
 */
describe('entity cache across gateway replicas (real redis-server)', () => {
  const env = {
    RESPONSE_CACHE_TTL_SECONDS: '30',
    ENTITY_CACHE_TTL_SECONDS: '60',
    // Kept generations count as current while the tracking connection was heard from within a heartbeat
    // plus a command timeout; a starved test machine must not drop tracking between two requests.
    REDIS_COMMAND_TIMEOUT_MS: '2000',
  };
  const redis = useTestRedis();
  let stack: TestStack;
  let second: RunningGateway;
  let token: string;

  const titleOf = async (url: string, id: string, first: number) => {
    const result = await stack.graphql<Page>(page, { variables: { query: 'obsidian', first }, token, url });
    expect(result.errors).toBeUndefined();
    return result.data!.search.hits.find((hit) => hit.document.id === id)?.document.title;
  };

  beforeAll(async () => {
    stack = await startTestStack({ env: { ...env, REDIS_URL: redis.server.url } });
    second = await startGatewayReplica(stack, { ...env, REDIS_URL: redis.server.url });
    token = await stack.token('tenant-entity-replicas');
  });
  afterAll(async () => {
    await second.stop();
    await stack.stop();
  });

  it('a write through one replica is seen through the other on the next page', async () => {
    const created = await stack.graphql<{ createDocument: { id: string } }>(
      'mutation { createDocument(input: { title: "Obsidian 1", body: "obsidian" }) { id } }',
      { token },
    );
    const id = created.data!.createDocument.id;
    await stack.settle();
    let first = 1;
    for (let version = 2; version <= 6; version++) {
      // Cached in Redis through the second replica, then read from there under new variables.
      expect(await titleOf(second.url, id, first++)).toBe(`Obsidian ${version - 1}`);
      expect(await titleOf(second.url, id, first++)).toBe(`Obsidian ${version - 1}`);
      const updated = await stack.graphql(
        `mutation { updateDocument(id: "${id}", input: { title: "Obsidian ${version}" }) { id } }`,
        { token },
      );
      expect(updated.errors).toBeUndefined();
      // No waiting: the first replica's generation bump reached the second before the write was acknowledged.
      expect(await titleOf(second.url, id, first)).toBe(`Obsidian ${version}`);
      // The indexer's bump of the search generation, which also ends entries, lands before the next pair.
      await stack.settle();
    }
    const metrics = await scrape(second.url.replace(/\/graphql$/, '/metrics'));
    expect(sampleValue(metrics, 'quarry_cache_lookups_total', { cache: 'entity', outcome: 'hit' })).toBe(5);
  });
});

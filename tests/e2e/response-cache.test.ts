import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

interface LogLine {
  msg: string;
  service?: string;
  tenant?: string;
  cache?: string;
}

const search = (text: string) =>
  `{ search(query: "${text}") { total stale hits { document { id title } } } }`;

/** The gateway's response cache, with a long TTL so that only invalidation can end an entry. */
describe('response cache', () => {
  const raw: string[] = [];
  let stack: TestStack;
  let tokenA: string;
  let tokenB: string;
  let failSearches = false;

  const gatewayCacheStatuses = () =>
    raw
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.service === 'gateway' && line.msg === 'request')
      .map((line) => line.cache);

  beforeAll(async () => {
    stack = await startTestStack({
      // The stale copy must outlast a write and its indexing: at 1 s a busy machine lost it first.
      env: { RESPONSE_CACHE_TTL_SECONDS: '30', CACHE_STALE_TTL_SECONDS: '60' },
      logDestination: { write: (line: string) => raw.push(line) },
      decorateIndex: (index): SearchIndex => ({
        search: (request) => (failSearches ? Promise.reject(new Error('index down')) : index.search(request)),
        suggest: (...args) => index.suggest(...args),
        apply: (changes) => index.apply(changes),
        close: () => index.close(),
      }),
    });
    tokenA = await stack.token('tenant-rc-a');
    tokenB = await stack.token('tenant-rc-b');
    for (const [token, title] of [
      [tokenA, 'Alpha granite runbook'],
      [tokenB, 'Beta granite runbook'],
    ] as const) {
      await stack.graphql(
        `mutation { createDocument(input: { title: "${title}", body: "granite" }) { id } }`,
        {
          token,
        },
      );
    }
    await stack.settle();
  });
  beforeEach(() => {
    raw.length = 0;
    failSearches = false;
  });
  afterAll(async () => {
    await stack.stop();
  });

  it('answers the same query again from the cache, with the same body', async () => {
    const first = await stack.graphql(search('granite'), { token: tokenA });
    const second = await stack.graphql(search('granite'), { token: tokenA });
    expect(first.errors).toBeUndefined();
    expect(second).toEqual(first);
    expect(gatewayCacheStatuses()).toEqual(['miss', 'hit']);
  });

  it("never serves one tenant another tenant's cached response", async () => {
    await stack.graphql(search('runbook'), { token: tokenA });
    const b = await stack.graphql<{ search: { hits: { document: { title: string } }[] } }>(
      search('runbook'),
      {
        token: tokenB,
      },
    );
    expect(b.data?.search.hits.map((hit) => hit.document.title)).toEqual(['Beta granite runbook']);
    expect(gatewayCacheStatuses()).toEqual(['miss', 'miss']);
  });

  it("drops a tenant's cached responses when the gateway runs a mutation for it", async () => {
    const before = await stack.graphql<{ search: { total: number } }>(search('quartz'), { token: tokenA });
    expect(before.data?.search.total).toBe(0);
    await stack.graphql('mutation { createDocument(input: { title: "Quartz notes", body: "b" }) { id } }', {
      token: tokenA,
    });
    await stack.settle();
    const after = await stack.graphql<{ search: { total: number } }>(search('quartz'), { token: tokenA });
    expect(after.data?.search.total).toBe(1);
    expect(gatewayCacheStatuses()).toEqual(['miss', 'bypass', 'miss']);
  });

  it("keeps a tenant's cached responses when a mutation is refused before it runs", async () => {
    const readOnly = await stack.token('tenant-rc-a', { scopes: ['documents:read'] });
    await stack.graphql(search('granite'), { token: tokenA });
    raw.length = 0;
    const refused = await stack.graphql(
      'mutation { createDocument(input: { title: "No", body: "b" }) { id } }',
      {
        token: readOnly,
      },
    );
    expect(refused.status).toBe(403);
    await stack.graphql(search('granite'), { token: tokenA });
    expect(gatewayCacheStatuses()).toEqual(['bypass', 'hit']);
  });

  it('never caches a response with errors', async () => {
    failSearches = true;
    for (let i = 0; i < 2; i += 1) {
      const result = await stack.graphql(search('never-seen-before'), { token: tokenA });
      expect(result.errors?.[0]?.extensions?.code).toBe('SEARCH_UNAVAILABLE');
    }
    expect(gatewayCacheStatuses()).toEqual(['miss', 'miss']);
  });

  it('never caches a stale page (served while the search backend is down)', async () => {
    await stack.graphql(search('granite'), { token: tokenA });
    // A write moves both generations on (the gateway's now, the search cache's once indexed), so
    // the next search misses both caches and reaches the failing index.
    await stack.graphql('mutation { createDocument(input: { title: "Other", body: "b" }) { id } }', {
      token: tokenA,
    });
    await stack.settle();
    failSearches = true;
    raw.length = 0;
    for (let i = 0; i < 2; i += 1) {
      const result = await stack.graphql<{ search: { stale: boolean } }>(search('granite'), {
        token: tokenA,
      });
      expect(result.data?.search.stale).toBe(true);
    }
    // Nor when the client aliases the flag away or never selects it.
    for (const query of [
      '{ search(query: "granite") { fresh: stale total } }',
      '{ search(query: "granite") { total } }',
    ]) {
      for (let i = 0; i < 2; i += 1) {
        const result = await stack.graphql(query, { token: tokenA });
        expect(result.errors).toBeUndefined();
      }
    }
    expect(gatewayCacheStatuses()).toEqual(['miss', 'miss', 'miss', 'miss', 'miss', 'miss']);
  });
});

describe('response cache and the indexer', () => {
  let stack: TestStack;
  let token: string;

  beforeAll(async () => {
    // The indexer runs only when the test settles it, so a search can be cached between a write and its indexing.
    stack = await startTestStack({ env: { RESPONSE_CACHE_TTL_SECONDS: '30', INDEXER_POLL_MS: '600000' } });
    token = await stack.token('tenant-rc-indexer');
  });
  afterAll(() => stack.stop());

  it('drops a search cached before a write was indexed, once the indexer has applied it', async () => {
    const created = await stack.graphql(
      'mutation { createDocument(input: { title: "Basalt", body: "basalt" }) { id } }',
      {
        token,
      },
    );
    expect(created.errors).toBeUndefined();
    const beforeIndexing = await stack.graphql<{ search: { total: number } }>(search('basalt'), { token });
    expect(beforeIndexing.data?.search.total).toBe(0);
    await stack.settle();
    const afterIndexing = await stack.graphql<{ search: { total: number } }>(search('basalt'), { token });
    expect(afterIndexing.data?.search.total).toBe(1);
  });
});

describe('response cache refresh ahead of expiry', () => {
  const raw: string[] = [];
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({
      env: {
        RESPONSE_CACHE_TTL_SECONDS: '3',
        RESPONSE_CACHE_REFRESH_SECONDS: '2',
        RATE_LIMIT_TIERS: 'standard=50/100,twenty=0.001/20',
      },
      logDestination: { write: (line: string) => raw.push(line) },
    });
  });
  afterAll(() => stack.stop());

  const statuses = () =>
    raw
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.service === 'gateway' && line.msg === 'request')
      .map((line) => line.cache);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('refreshes an entry hit late in its life in the background, so it is still a hit after its TTL', async () => {
    // A burst of twenty and no refill, to count the tokens the client's requests took.
    const token = await stack.token('tenant-rc-refresh', { tier: 'twenty' });
    const ask = () => stack.graphql<{ suggest: string[] }>('{ suggest(prefix: "re") }', { token });
    const storedAt = Date.now();
    expect((await ask()).errors).toBeUndefined();
    let asked = 1;
    // The entry's refresh point is drawn 1 to 2 s after it was stored: hit it until a hit starts a refresh.
    await sleep(1000);
    while (!statuses().includes('refresh') && Date.now() - storedAt < 2800) {
      expect((await ask()).errors).toBeUndefined();
      asked += 1;
      await sleep(100);
    }
    await expect.poll(statuses).toContain('refresh');
    expect(statuses().slice(0, 2)).toEqual(['miss', 'hit']);

    // Past the first entry's TTL, the refreshed entry answers.
    await sleep(Math.max(0, storedAt + 3300 - Date.now()));
    raw.length = 0;
    expect((await ask()).errors).toBeUndefined();
    asked += 1;
    expect(statuses()[0]).toBe('hit');

    // Every client request took a token and the refresh none: the burst holds exactly the rest.
    for (; asked < 20; asked += 1) expect((await ask()).errors).toBeUndefined();
    expect((await ask()).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');

    const metrics = await (await fetch(new URL('/metrics', stack.gatewayUrl))).text();
    const served = metrics
      .split('\n')
      .filter(
        (line) => line.startsWith('quarry_graphql_requests_total{') && line.includes('tenant-rc-refresh'),
      )
      .map((line) => Number(line.split(' ').at(-1)));
    // Refreshes are the gateway's own requests: counted as cache refreshes, not as requests.
    expect(served.reduce((sum, count) => sum + count, 0)).toBe(21);
    expect(metrics).toMatch(/quarry_cache_lookups_total\{cache="response",outcome="refresh"[^}]*\} [1-9]/);
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Cluster, startCluster } from '../consistency/cluster.ts';
import { commonWords, naturalText } from '../helpers/natural-text.ts';
import { type GraphQLResponse, postGraphQL } from '../helpers/test-stack.ts';

/**
 * Tenant A holds long natural-language documents and, at concurrency 20,
 * sends searches for common words (which make the embedded index compute
 * highlights over thousands of occurrences) and oversized queries (every
 * body, fifteen times over: a response many times MAX_RESPONSE_BYTES);
 * tenant B sends ordinary searches meanwhile.
 *
 * Every service runs as its own process, as deployed, with the production
 * defaults (breakers and timeouts included); A's client runs in this one.
 */
const noisy = {
  documents: 20,
  bodyLength: 99_000,
  concurrency: 20,
  aliasesPerRequest: 5,
  oversizedAliases: 15,
};
const bounds = {
  /** What B may wait for one search, or anyone for a liveness probe, while A attacks (docs/security.md). */
  quietWaitMs: 1_000,
  /**
   * Added to that bound: B's slowest search alone, this many times over. It is
   * the machine's own delay (other processes on shared cores stretch every hop
   * of a request), which no bound inside Quarry removes; on an idle machine it
   * is a few tens of milliseconds.
   */
  machineDelayFactor: 4,
  quietRounds: 10,
  /** A's searches are stopped this soon; the attack is about B, not about how long A waits. */
  searchDeadlineMs: 900,
  /** Until what was written is searchable: the indexer's own pace, on a busy machine. */
  indexedWithinMs: 60_000,
};

const aliases = Array.from({ length: noisy.aliasesPerRequest }, (_, alias) => alias);
/** One document (the gateway plans it once); the texts travel as variables. */
const noisyQuery = `query (${aliases.map((alias) => `$q${alias}: String!`).join(', ')}) { ${aliases
  .map(
    (alias) =>
      `s${alias}: search(query: $q${alias}, first: 1) { total hits { highlights { snippets } document { id } } }`,
  )
  .join(' ')} }`;

/** Distinct per request and alias, so no cache answers A: every search reaches the index. */
function noisyTexts(request: number): Record<string, string> {
  return Object.fromEntries(
    aliases.map((alias) => {
      const other = commonWords[1 + ((request * noisy.aliasesPerRequest + alias) % (commonWords.length - 1))];
      return [`q${alias}`, `the ${other}`];
    }),
  );
}

/** Cheap by the cost model, fifteen times every body of A's in bytes. */
const oversizedQuery = `query ($ids: [ID!]!) { ${Array.from(
  { length: noisy.oversizedAliases },
  (_, alias) => `d${alias}: documents(ids: $ids) { body }`,
).join(' ')} }`;

const quietQuery = `query ($query: String!) { search(query: $query, first: 5) { total hits { document { id title } } } }`;
const create = 'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }';

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('noisy neighbour', () => {
  let cluster: Cluster;
  let gatewayUrl: string;
  let noisyToken: string;
  let quietToken: string;
  const noisyIds: string[] = [];
  const graphql = <TData = Record<string, unknown>>(
    query: string,
    token: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResponse<TData>> => postGraphQL<TData>(gatewayUrl, { query, variables }, token);
  const total = async (token: string, query: string) =>
    (await graphql<{ search: { total: number } }>(quietQuery, token, { query })).data?.search.total;

  beforeAll(async () => {
    cluster = await startCluster({
      env: {
        SEARCH_QUERY_TIMEOUT_MS: String(bounds.searchDeadlineMs),
        RATE_LIMIT_TIERS: 'standard=100000/100000',
        // Whole responses are not what this is about; the search cache is defeated by distinct texts.
        RESPONSE_CACHE_TTL_SECONDS: '0',
      },
    });
    gatewayUrl = cluster.gatewayUrls[0] as string;
    noisyToken = await cluster.token('noisy-tenant');
    quietToken = await cluster.token('quiet-tenant');
    for (let i = 0; i < noisy.documents; i++) {
      const input = { title: `Field report ${i}`, body: naturalText(i + 1, noisy.bodyLength) };
      const created = await graphql<{ createDocument: { id: string } }>(create, noisyToken, { input });
      expect(created.errors).toBeUndefined();
      noisyIds.push(created.data?.createDocument.id as string);
    }
    for (let i = 0; i < bounds.quietRounds; i++) {
      const input = { title: `Runbook ${i}`, body: `How to restart service${i} safely.` };
      expect((await graphql(create, quietToken, { input })).errors).toBeUndefined();
    }
    await vi.waitFor(
      async () => {
        expect(await total(noisyToken, 'field report')).toBe(noisy.documents);
        expect(await total(quietToken, `service${bounds.quietRounds - 1}`)).toBe(1);
      },
      { timeout: bounds.indexedWithinMs, interval: 100 },
    );
  }, 300_000);
  afterAll(() => cluster?.stop());

  it('answers the quiet tenant within a second and without errors while the noisy one attacks at concurrency 20', async () => {
    // B alone first, for the failure message: what its searches cost without a neighbour.
    const alone: number[] = [];
    for (let round = 0; round < bounds.quietRounds; round++) {
      alone.push(Math.round((await timed(() => total(quietToken, `restart service${round}`))).ms));
    }
    let attacking = true;
    const noisyCodes = new Set<unknown>();
    let sent = 0;
    const attackers = Array.from({ length: noisy.concurrency }, async () => {
      while (attacking) {
        const request = sent++;
        const response =
          request % 2 === 0
            ? await graphql(noisyQuery, noisyToken, noisyTexts(request))
            : await graphql(oversizedQuery, noisyToken, { ids: noisyIds });
        for (const error of response.errors ?? []) noisyCodes.add(error.extensions?.code);
      }
    });

    const quiet: { search: number; liveSearch: number; liveGateway: number }[] = [];
    const quietErrors: GraphQLResponse['errors'] = [];
    try {
      for (let round = 0; round < bounds.quietRounds; round++) {
        const search = await timed(() =>
          graphql<{ search: { total: number } }>(quietQuery, quietToken, { query: `service${round}` }),
        );
        quietErrors.push(...(search.value.errors ?? []));
        expect(search.value.data?.search.total, JSON.stringify(search.value.errors)).toBe(1);
        const liveSearch = await timed(() => fetch(`${cluster.searchOrigin}/health/live`));
        const liveGateway = await timed(() => fetch(new URL('/health/live', gatewayUrl)));
        expect([liveSearch.value.status, liveGateway.value.status]).toEqual([200, 200]);
        quiet.push({
          search: Math.round(search.ms),
          liveSearch: Math.round(liveSearch.ms),
          liveGateway: Math.round(liveGateway.ms),
        });
      }
    } finally {
      attacking = false;
      await Promise.all(attackers);
    }

    expect(quietErrors).toEqual([]);
    const slowest = Math.max(...quiet.flatMap((round) => Object.values(round)));
    const bound = bounds.quietWaitMs + bounds.machineDelayFactor * Math.max(...alone);
    expect(slowest, JSON.stringify({ bound, alone, underAttack: quiet })).toBeLessThan(bound);
    // A was refused or stopped with coded answers, never a failure of a service.
    expect(sent).toBeGreaterThan(noisy.concurrency);
    for (const code of noisyCodes)
      expect(['SEARCH_TIMEOUT', 'RATE_LIMITED', 'RESPONSE_TOO_LARGE']).toContain(code);
  }, 120_000);
});

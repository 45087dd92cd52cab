import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonWords, naturalText } from '../helpers/natural-text.ts';
import { type GraphQLResponse, startTestStack, type TestStack } from '../helpers/test-stack.ts';

/**
 * Tenant A holds long natural-language documents and sends searches for
 * common words, which make the embedded index compute highlights over
 * thousands of occurrences; tenant B sends ordinary searches meanwhile.
 */
const noisy = {
  documents: 20,
  bodyLength: 99_000,
  concurrency: 20,
  aliasesPerRequest: 5,
};
const bounds = {
  /**
   * What B may wait for one search, or anyone for a liveness probe, while A
   * attacks. The target is a second (docs/security.md). This test runs the
   * whole stack and its attacker in one process, on cores shared with the
   * rest of the suite, so it allows more; before the worker pool, A's
   * searches held this process for many times this.
   */
  quietWaitMs: 10_000,
  quietRounds: 10,
  /** A's searches are stopped this soon; the attack is about B, not about how long A waits. */
  searchDeadlineMs: 900,
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

const quietQuery = `query ($query: String!) { search(query: $query, first: 5) { total hits { document { id title } } } }`;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('noisy neighbour', () => {
  let stack: TestStack;
  let noisyToken: string;
  let quietToken: string;

  beforeAll(async () => {
    stack = await startTestStack({
      events: {
        ...(await import('../../server/observability/events.ts')).noOperationalEvents,
        breakerStateChanged: (d, st) => console.log('BREAKER', d, st, performance.now() | 0),
        backendCall: (d, op, sec, out) => {
          if (out === 'error' || sec > 1)
            console.log('CALL', d, op, sec.toFixed(2), out, performance.now() | 0);
        },
      },
      env: {
        SEARCH_QUERY_TIMEOUT_MS: String(bounds.searchDeadlineMs),
        RATE_LIMIT_TIERS: 'standard=100000/100000',
        // A starved test process must not read as an outage: that would open shared breakers on its own.
        RESILIENCE_TIMEOUT_MS: String(bounds.quietWaitMs),
        SUBGRAPH_TIMEOUT_MS: String(bounds.quietWaitMs * 2),
        // Whole responses are not what this is about; the search cache is defeated by distinct texts.
        RESPONSE_CACHE_TTL_SECONDS: '0',
      },
    });
    noisyToken = await stack.token('noisy-tenant');
    quietToken = await stack.token('quiet-tenant');
    const create = 'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }';
    for (let i = 0; i < noisy.documents; i++) {
      const input = { title: `Field report ${i}`, body: naturalText(i + 1, noisy.bodyLength) };
      expect(
        (await stack.graphql(create, { variables: { input }, token: noisyToken })).errors,
      ).toBeUndefined();
    }
    for (let i = 0; i < bounds.quietRounds; i++) {
      const input = { title: `Runbook ${i}`, body: `How to restart service${i} safely.` };
      expect(
        (await stack.graphql(create, { variables: { input }, token: quietToken })).errors,
      ).toBeUndefined();
    }
    await stack.settle();
  }, 120_000);
  afterAll(() => stack?.stop());

  it('answers the quiet tenant within a bound and without errors while the noisy one sends costly searches at concurrency 20', async () => {
    // B alone first, for the failure message: what its searches cost without a neighbour.
    const alone: number[] = [];
    for (let round = 0; round < bounds.quietRounds; round++) {
      const search = await timed(() =>
        stack.graphql(quietQuery, { variables: { query: `restart service${round}` }, token: quietToken }),
      );
      alone.push(Math.round(search.ms));
    }
    let attacking = true;
    const noisyCodes = new Set<unknown>();
    let sent = 0;
    const attackers = Array.from({ length: noisy.concurrency }, async () => {
      while (attacking) {
        const response = await stack.graphql(noisyQuery, {
          variables: noisyTexts(sent++),
          token: noisyToken,
        });
        for (const error of response.errors ?? []) noisyCodes.add(error.extensions?.code);
      }
    });

    const quiet: { search: number; liveSearch: number; liveGateway: number }[] = [];
    const quietErrors: GraphQLResponse['errors'] = [];
    try {
      for (let round = 0; round < bounds.quietRounds; round++) {
        const search = await timed(() =>
          stack.graphql<{ search: { total: number } }>(quietQuery, {
            variables: { query: `service${round}` },
            token: quietToken,
          }),
        );
        quietErrors.push(...(search.value.errors ?? []));
        expect(search.value.data?.search.total, JSON.stringify(search.value.errors)).toBe(1);
        const liveSearch = await timed(() => fetch(new URL('/health/live', stack.searchUrl)));
        const liveGateway = await timed(() => fetch(new URL('/health/live', stack.gatewayUrl)));
        expect([liveSearch.value.status, liveGateway.value.status]).toEqual([200, 200]);
        quiet.push({ search: search.ms, liveSearch: liveSearch.ms, liveGateway: liveGateway.ms });
      }
    } finally {
      attacking = false;
      await Promise.all(attackers);
    }

    expect(quietErrors).toEqual([]);
    const slowest = Math.max(...quiet.flatMap((round) => Object.values(round)));
    expect(slowest, JSON.stringify({ alone, underAttack: quiet })).toBeLessThan(bounds.quietWaitMs);
    // A's searches were refused or stopped with coded answers, never a failure of the service.
    for (const code of noisyCodes) expect(['SEARCH_TIMEOUT', 'RATE_LIMITED']).toContain(code);
  }, 120_000);
});

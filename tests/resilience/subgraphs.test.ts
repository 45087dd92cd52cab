import { describe, expect, it } from 'vitest';
import type { FaultMode, FaultProxy } from '../helpers/fault-proxy.ts';
import {
  breakerOf,
  budgets,
  codes,
  eventually,
  expectNoErrors,
  matrixHarness,
  readiness,
  timed,
  uncached,
} from './harness.ts';

const documentsQuery = 'query ($ids: [ID!]!) { documents(ids: $ids) { id title } }';

/**
 * `down` is a refused connection; `slow` delays every byte past the attempt timeout. Every request is
 * `uncached`: a response-cache hit would never reach the subgraph under test.
 */
const faults: { name: string; mode: FaultMode; delayMs?: number }[] = [
  { name: 'down', mode: 'refuse' },
  { name: 'slow', mode: 'delay', delayMs: budgets.subgraphDeadlineMs + 500 },
  { name: 'reset', mode: 'reset' },
  { name: 'blackhole', mode: 'blackhole' },
];
/**
 * Requests that open the breaker (BREAKER_FAILURE_THRESHOLD is 3): each fails once, since the gateway
 * retries a subgraph only when the connection was refused (the subgraph retries its backend itself).
 */
const requestsToOpen = 3;
/** Until the breaker opens, a request waits at most the subgraph deadline. */
const deadlineBound = budgets.subgraphDeadlineMs + 1000;

describe('resilience matrix: search subgraph', () => {
  const cell = matrixHarness('tenant-search-subgraph', { seed: { title: 'Still readable', body: 'heron' } });

  for (const { name, mode, delayMs } of faults) {
    it(`${name}: search fails with SUBGRAPH_UNAVAILABLE, documents still answer, then it recovers`, async () => {
      const { h, id } = cell;
      const proxy: FaultProxy = h.searchProxy;
      const search = () => cell.uncachedSearch('heron');
      expectNoErrors(await search());

      await proxy.set(mode, { delayMs });
      for (let request = 0; request < requestsToOpen; request++) {
        const { ms, result } = await timed(search);
        expect(result.status).toBe(200);
        expect(result.data).toBeNull();
        expect(codes(result)).toEqual(['SUBGRAPH_UNAVAILABLE']);
        expect(ms).toBeLessThan(deadlineBound);
      }
      expect(await breakerOf(h.stack.gatewayUrl, 'subgraph:search')).toBe('open');
      // The gateway still serves the documents subgraph, so it stays ready.
      expect((await readiness(h.stack.gatewayUrl)).status).toBe(200);

      const open = await timed(search);
      expect(codes(open.result)).toEqual(['SUBGRAPH_UNAVAILABLE']);
      expect(open.ms).toBeLessThan(budgets.openSubgraphMs);
      const documents = await h.stack.graphql<{ documents: { title: string }[] }>(uncached(documentsQuery), {
        token: h.token,
        variables: { ids: [id] },
      });
      expectNoErrors(documents);
      expect(documents.data!.documents[0]!.title).toBe('Still readable');

      await proxy.set('pass');
      await eventually(async () => {
        const result = await search();
        expectNoErrors(result);
        expect(result.data!.search.hits[0]!.document!.title).toBe('Still readable');
      });
      expect(await breakerOf(h.stack.gatewayUrl, 'subgraph:search')).toBe('closed');
    });
  }
});

describe('resilience matrix: documents subgraph', () => {
  const cell = matrixHarness('tenant-documents-subgraph', { seed: { title: 'Partial', body: 'ibis' } });

  for (const { name, mode, delayMs } of faults) {
    it(`${name}: search returns hits with document null and errors on those paths, then it recovers`, async () => {
      const { h, id } = cell;
      const proxy: FaultProxy = h.documentsProxy;
      const search = () => cell.uncachedSearch('ibis');
      expectNoErrors(await search());

      await proxy.set(mode, { delayMs });
      for (let request = 0; request < requestsToOpen; request++) {
        const { ms, result } = await timed(search);
        expect(result.data!.search.total).toBe(1);
        expect(result.data!.search.hits).toEqual([{ document: null }]);
        expect(codes(result)).toEqual(['SUBGRAPH_UNAVAILABLE']);
        expect(ms).toBeLessThan(deadlineBound);
      }
      expect(await breakerOf(h.stack.gatewayUrl, 'subgraph:documents')).toBe('open');
      expect((await readiness(h.stack.gatewayUrl)).status).toBe(200);

      const open = await timed(search);
      expect(open.result.data!.search.hits).toEqual([{ document: null }]);
      expect(open.result.errors!.map((error) => [error.extensions?.code, error.path])).toEqual([
        ['SUBGRAPH_UNAVAILABLE', ['search', 'hits', 0, 'document']],
      ]);
      expect(open.ms).toBeLessThan(budgets.openSubgraphMs);
      const documents = await h.stack.graphql(uncached(documentsQuery), {
        token: h.token,
        variables: { ids: [id] },
      });
      expect(documents.data).toBeNull();
      expect(codes(documents)).toEqual(['SUBGRAPH_UNAVAILABLE']);

      await proxy.set('pass');
      await eventually(async () => {
        const result = await search();
        expectNoErrors(result);
        expect(result.data!.search.hits[0]!.document!.title).toBe('Partial');
      });
      expect(await breakerOf(h.stack.gatewayUrl, 'subgraph:documents')).toBe('closed');
    });
  }

  it("retries neither a query nor a mutation once the subgraph accepted the connection; the mutation's outcome is unknown", async () => {
    const { h, id } = cell;
    await h.documentsProxy.set('reset');
    let before = h.documentsProxy.accepted();
    const write = await h.stack.graphql(
      'mutation { createDocument(input: { title: "Once", body: "x" }) { id } }',
      {
        token: h.token,
      },
    );
    // The connection was reset after the gateway sent the mutation: it may have committed.
    expect(codes(write)).toEqual(['WRITE_OUTCOME_UNKNOWN']);
    expect(h.documentsProxy.accepted() - before).toBe(1);
    before = h.documentsProxy.accepted();
    const read = await h.stack.graphql(uncached(documentsQuery), {
      token: h.token,
      variables: { ids: [id] },
    });
    expect(codes(read)).toEqual(['SUBGRAPH_UNAVAILABLE']);
    // The subgraph may have started the read, and retried its backend already: one layer of retries.
    expect(h.documentsProxy.accepted() - before).toBe(1);
  });
});

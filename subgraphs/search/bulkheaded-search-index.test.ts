import { describe, expect, it } from 'vitest';
import { CallAbandonedError, DeadlineExceededError } from '../../server/embedded/worker-pool.ts';
import { createResilience } from '../../server/resilience/policy.ts';
import { createTenantBulkheads } from '../../server/resilience/tenant-bulkheads.ts';
import { bulkheadedSearchIndex } from './bulkheaded-search-index.ts';
import { createCursorCodec } from './cursor.ts';
import { resilientSearchIndex } from './resilient-search-index.ts';
import { createSearchResolvers, type SearchContext } from './resolvers.ts';
import type { SearchIndex, SearchRequest } from './search-index.ts';
import { noSynonyms } from './synonyms.ts';

const request = (tenantId: string): SearchRequest => ({
  tenantId,
  text: 'the of and',
  filter: {},
  sort: 'RELEVANCE',
  first: 10,
  facets: [],
});
const emptyPage = { total: 0, hits: [], facets: [], hasNextPage: false };

/** An index whose searches for `noisy` run past their deadline, with a replacement worker still starting. */
function slowForNoisy(replacement: Promise<void>) {
  let noisyCalls = 0;
  const index: SearchIndex = {
    search: async ({ tenantId }) => {
      if (tenantId !== 'noisy') return emptyPage;
      noisyCalls++;
      throw new DeadlineExceededError('sqlite-search', 'search', 1000, replacement);
    },
    suggest: async () => [],
    apply: async () => ({ rejected: [] }),
    close: async () => {},
  };
  return { index, noisyCalls: () => noisyCalls };
}

describe('search isolation between tenants', () => {
  it('neither retries a search stopped at its deadline nor lets it open the breaker for other tenants', async () => {
    const resilience = createResilience({ failureThreshold: 2, readAttempts: 3, retryInitialDelayMs: 1 });
    const backend = slowForNoisy(Promise.resolve());
    const index = resilientSearchIndex(backend.index, resilience.policy('search-index'));
    for (let call = 0; call < 5; call++) {
      await expect(index.search(request('noisy'))).rejects.toBeInstanceOf(DeadlineExceededError);
    }
    expect(backend.noisyCalls()).toBe(5);
    expect(resilience.states()).toEqual({ 'search-index': 'closed' });
    await expect(index.search(request('quiet'))).resolves.toEqual(emptyPage);
  });

  it("keeps the tenant's slot until the stopped search's worker is replaced, and only that tenant's", async () => {
    const restart = Promise.withResolvers<void>();
    const backend = slowForNoisy(restart.promise);
    const index = bulkheadedSearchIndex(
      backend.index,
      createTenantBulkheads({ dependency: 'search-index', concurrency: 1, queue: 0 }),
    );
    await expect(index.search(request('noisy'))).rejects.toBeInstanceOf(DeadlineExceededError);
    await expect(index.search(request('noisy'))).rejects.toMatchObject({ isTenantBusy: true });
    await expect(index.search(request('quiet'))).resolves.toEqual(emptyPage);
    restart.resolve();
    await restart.promise;
    await expect(index.search(request('noisy'))).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(backend.noisyCalls()).toBe(2);
  });

  it("keeps the tenant's slot while a search its caller left still runs", async () => {
    const finished = Promise.withResolvers<void>();
    const caller = new AbortController();
    // The caller leaves while its search runs; the pool lets the search end, then drops its answer.
    const index: SearchIndex = {
      ...slowForNoisy(finished.promise).index,
      search: async () => {
        caller.abort();
        await finished.promise;
        throw new CallAbandonedError('sqlite-search', 'search', caller.signal.reason);
      },
    };
    const bulkheads = createTenantBulkheads({ dependency: 'search-index', concurrency: 1, queue: 0 });
    const guarded = bulkheadedSearchIndex(
      resilientSearchIndex(index, createResilience({ readAttempts: 3 }).policy('search-index')),
      bulkheads,
    );
    const abandoned = guarded.search(request('t'), { signal: caller.signal });
    abandoned.catch(() => {});
    await expect(guarded.search(request('t'))).rejects.toMatchObject({ isTenantBusy: true });
    finished.resolve();
    await expect(abandoned).rejects.toMatchObject({ isDependencyUnavailable: true });
    await expect.poll(() => bulkheads.activeTenants()).toBe(0);
  });

  it('answers SEARCH_TIMEOUT for a stopped search and RATE_LIMITED for a refused one', async () => {
    const backend = slowForNoisy(new Promise(() => {}));
    const index = bulkheadedSearchIndex(
      backend.index,
      createTenantBulkheads({ dependency: 'search-index', concurrency: 1, queue: 0 }),
    );
    const unusedSynonyms = { synonyms: async () => noSynonyms, replaceSynonyms: async () => {} };
    const resolvers = createSearchResolvers(
      index,
      createCursorCodec('x'.repeat(32)),
      { maxFirst: 100 },
      unusedSynonyms,
    );
    const search = (resolvers.Query as Record<string, (...args: unknown[]) => Promise<unknown>>).search;
    const context = { principal: { tenantId: 'noisy' } } as SearchContext;
    const args = { query: 'the of and', sort: null, first: 10 };
    // A selection without highlights: the resolver reads it to skip work nobody asked for.
    const info = { fieldNodes: [], fragments: {} };
    await expect(search?.({}, args, context, info)).rejects.toMatchObject({
      extensions: { code: 'SEARCH_TIMEOUT' },
    });
    await expect(search?.({}, args, context, info)).rejects.toMatchObject({
      extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 },
    });
  });
});

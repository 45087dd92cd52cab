import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchIndex, SearchPage } from '../../subgraphs/search/search-index.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** A programming error deep in a subgraph, as a client sees it through the gateway. */
describe('internal errors', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({
      decorateIndex: (index): SearchIndex => ({
        ...index,
        // A malformed page makes the resolver itself throw a TypeError: a bug, not an unavailable backend.
        search: async () =>
          ({ total: 1, hits: null, facets: [], hasNextPage: false }) as unknown as SearchPage,
        suggest: (...args) => index.suggest(...args),
        apply: (changes) => index.apply(changes),
        close: () => index.close(),
      }),
    });
  });
  afterAll(() => stack.stop());

  it('reach the client as a bare INTERNAL_SERVER_ERROR, with no message, stack or path into the code', async () => {
    const response = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await stack.token('tenant-mask')}`,
      },
      body: JSON.stringify({ query: '{ search(query: "anything") { total hits { score } } }' }),
    });
    const text = await response.text();
    const body = JSON.parse(text) as { errors?: { message: string; extensions?: Record<string, unknown> }[] };
    expect(body.errors?.[0]).toMatchObject({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(Object.keys(body.errors?.[0]?.extensions ?? {})).toEqual(['code']);
    for (const leak of ['Cannot read', 'TypeError', 'stacktrace', '.ts:', 'resolvers'])
      expect(text).not.toContain(leak);
  });
});

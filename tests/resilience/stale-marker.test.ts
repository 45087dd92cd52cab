import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/**
 * The search subgraph marks a response that carries a stale page, so the
 * gateway's response cache never keeps it. With two searches in one
 * operation, the stale one must mark the response even when the other,
 * fresh, finishes after it.
 */
describe('stale marker with two searches in one operation', () => {
  let stack: TestStack;
  let token: string;
  let graniteFails = false;

  beforeAll(async () => {
    stack = await startTestStack({
      env: { RESPONSE_CACHE_TTL_SECONDS: '30' },
      decorateIndex: (index): SearchIndex => ({
        search: async (request) => {
          if (request.text === 'granite' && graniteFails) throw new Error('index down for this query');
          if (request.text === 'basalt') await sleep(300);
          return index.search(request);
        },
        suggest: (...args) => index.suggest(...args),
        apply: (changes) => index.apply(changes),
        close: () => index.close(),
      }),
    });
    token = await stack.token('tenant-stale-marker');
    const create = (title: string) =>
      stack.graphql(`mutation { createDocument(input: { title: "${title}", body: "b" }) { id } }`, { token });
    await create('Granite one');
    await stack.settle();
    // Leaves a last page for "granite" to serve stale.
    await stack.graphql('{ search(query: "granite") { total } }', { token });
    // Moves the tenant's search generation on, so the next "granite" search misses its fresh entry.
    await create('Basalt one');
    await stack.settle();
  });
  afterAll(() => stack.stop());

  it('never lets the gateway cache an answer that carries a stale page', async () => {
    const query =
      '{ a: search(query: "granite") { total stale } b: search(query: "basalt") { total stale } }';
    graniteFails = true;
    const during = await stack.graphql<{ a: { stale: boolean }; b: { stale: boolean } }>(query, { token });
    expect(during.errors).toBeUndefined();
    expect(during.data).toMatchObject({ a: { stale: true }, b: { stale: false } });

    graniteFails = false;
    const after = await stack.graphql<{ a: { stale: boolean }; b: { stale: boolean } }>(query, { token });
    expect(after.data).toMatchObject({ a: { stale: false }, b: { stale: false } });
  });
});

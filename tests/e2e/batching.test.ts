import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallCounts, countCalls } from '../helpers/counting.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

describe('backend calls per request', () => {
  let stack: TestStack;
  let token: string;
  const storeCalls: CallCounts = new Map();
  const indexCalls: CallCounts = new Map();

  beforeAll(async () => {
    stack = await startTestStack({
      decorateStore: (store) => countCalls(store, storeCalls),
      decorateIndex: (index) => countCalls(index, indexCalls),
    });
    token = await stack.token('tenant-batch');
    for (let index = 0; index < 60; index += 1) {
      await stack.graphql(
        `mutation { createDocument(input: { title: "Batch ${index}", body: "batched body" }) { id } }`,
        { token },
      );
    }
    await stack.settle();
  });
  afterAll(() => stack.stop());

  it('a page of 50 hits costs one search call and one batched document load', async () => {
    storeCalls.clear();
    indexCalls.clear();
    const result = await stack.graphql<{ search: { hits: { document: { title: string } }[] } }>(
      '{ search(query: "batched", first: 50) { hits { document { id title body version } } } }',
      { token },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.search.hits).toHaveLength(50);
    expect(result.data!.search.hits.every((hit) => hit.document.title.startsWith('Batch'))).toBe(true);
    expect(indexCalls.get('search')).toBe(1);
    expect(storeCalls.get('findByIds')).toBe(1);
  });

  it('documents(ids:) with duplicates is one backend call, and none once cached', async () => {
    const page = await stack.graphql<{ search: { hits: { document: { id: string } }[] } }>(
      '{ search(query: "batched", first: 60) { hits { document { id } } } }',
      { token },
    );
    // The first 50 were loaded (and cached) by the previous test; these 10 never were.
    const ids = page.data!.search.hits.slice(50).map((hit) => hit.document.id);
    expect(ids).toHaveLength(10);
    storeCalls.clear();
    const result = await stack.graphql<{ documents: { id: string }[] }>(
      'query ($ids: [ID!]!) { documents(ids: $ids) { id } }',
      {
        variables: { ids: [...ids, ...ids] },
        token,
      },
    );
    expect(result.data!.documents.map((document) => document.id)).toEqual([...ids, ...ids]);
    expect(storeCalls.get('findByIds')).toBe(1);
    const again = await stack.graphql<{ documents: { id: string }[] }>(
      'query ($ids: [ID!]!) { documents(ids: $ids) { id } }',
      { variables: { ids }, token },
    );
    expect(again.data!.documents.map((document) => document.id)).toEqual(ids);
    expect(storeCalls.get('findByIds')).toBe(1);
  });
});

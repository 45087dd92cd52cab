import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Counts search calls, so a test can prove a refusal happened before any backend work. */
function countingIndex(counter: { calls: number }) {
  return (index: SearchIndex): SearchIndex =>
    new Proxy(index, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          counter.calls += 1;
          return value.apply(target, args);
        };
      },
    });
}

const aliases = (count: number, field: (n: number) => string) =>
  Array.from({ length: count }, (_, n) => `a${n}: ${field(n)}`).join(' ');

describe('operation cost at the default limits', () => {
  let stack: TestStack;
  let token: string;
  const searches = { calls: 0 };

  beforeAll(async () => {
    stack = await startTestStack({ decorateIndex: countingIndex(searches) });
    token = await stack.token('tenant-a');
  });
  afterAll(() => stack.stop());

  async function expectTooExpensive(query: string, variables?: Record<string, unknown>) {
    const before = searches.calls;
    const result = await stack.graphql(query, { token, variables });
    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'OPERATION_LIMIT_EXCEEDED' });
    expect(result.errors?.[0]?.message).toMatch(/Query Cost limit of 10000/);
    expect(searches.calls).toBe(before);
  }

  it('counts `first` sent in a variable: fifteen aliased full pages of bodies are refused', async () => {
    const fields = aliases(15, () => 'search(query: "the", first: $n) { hits { document { body } } }');
    await expectTooExpensive(`query ($n: Int) { ${fields} }`, { n: 100 });
    await expectTooExpensive(`query ($n: Int = 100) { ${fields} }`);
  });

  it('counts the ids given to `documents(ids:)`', async () => {
    const ids = Array.from({ length: 100 }, (_, n) => `doc-${n}`);
    const fields = aliases(
      15,
      () => 'documents(ids: $ids) { id title body tags author status version createdAt updatedAt }',
    );
    await expectTooExpensive(`query ($ids: [ID!]!) { ${fields} }`, { ids });
  });

  it('runs one full search page, with `first` in a variable', async () => {
    const result = await stack.graphql(
      'query ($n: Int) { search(query: "the", first: $n) { total hits { score document { id title body } } } }',
      { token, variables: { n: 100 } },
    );
    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxQueryTerms } from '../../subgraphs/search/query-parser.ts';
import type { SearchIndex, SearchRequest } from '../../subgraphs/search/search-index.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Search work a client did not ask for is not done, and a query's terms are bounded, through the gateway. */
describe('search work follows the request', () => {
  let stack: TestStack;
  let token: string;
  const sent: SearchRequest[] = [];

  const recording = (index: SearchIndex): SearchIndex => ({
    ...index,
    search: (request) => {
      sent.push(request);
      return index.search(request);
    },
    suggest: index.suggest.bind(index),
    apply: index.apply.bind(index),
    close: index.close.bind(index),
  });

  beforeAll(async () => {
    stack = await startTestStack({ decorateIndex: recording });
    token = await stack.token('tenant-work');
    const created = await stack.graphql(
      'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }',
      { variables: { input: { title: 'Wing flutter', body: 'Flutter of a swept wing.' } }, token },
    );
    expect(created.errors).toBeUndefined();
    await stack.settle();
  });
  afterAll(() => stack?.stop());

  const lastRequest = async (operation: string, query: string) => {
    sent.length = 0;
    const result = await stack.graphql<{ search: { hits: unknown[] } }>(operation, {
      variables: { query },
      token,
    });
    expect(result.errors).toBeUndefined();
    return { result, request: sent.at(-1) };
  };

  it('asks the index for highlights only when the operation selects them, through aliases and fragments', async () => {
    const without = await lastRequest(
      'query ($query: String!) { search(query: $query) { hits { score document { id } } } }',
      'flutter wing',
    );
    expect(without.request?.highlights).toBe(false);

    const viaFragment = await lastRequest(
      `query ($query: String!) { search(query: $query) { ...Page } }
       fragment Page on SearchResults { found: hits { ... on SearchHit { marks: highlights { snippets } } } }`,
      'flutter wing',
    );
    expect(viaFragment.request?.highlights).toBe(true);
    expect(JSON.stringify(viaFragment.result.data)).toContain('<em>');
  });

  it('finds a misspelled word, unless the request turns typo tolerance off', async () => {
    const operation =
      'query ($query: String!, $typos: Boolean) { search(query: $query, typoTolerance: $typos) { total } }';
    const total = async (typos?: boolean) => {
      const result = await stack.graphql<{ search: { total: number } }>(operation, {
        variables: { query: 'fluttre', ...(typos === undefined ? {} : { typos }) },
        token,
      });
      expect(result.errors).toBeUndefined();
      return result.data?.search.total;
    };
    expect(await total()).toBe(1);
    expect(await total(false)).toBe(0);
  });

  it('answers didYouMean through the gateway, and looks for it only when the operation selects it', async () => {
    const selected = await lastRequest(
      'query ($query: String!) { search(query: $query) { hits { score } didYouMean } }',
      'swept fluttre',
    );
    expect(selected.request?.didYouMean).toBe(true);
    expect(selected.result.data).toMatchObject({ search: { didYouMean: 'swept flutter' } });

    const spelledRight = await lastRequest(
      'query ($query: String!) { search(query: $query) { didYouMean } }',
      'flutter',
    );
    expect(spelledRight.result.data).toEqual({ search: { didYouMean: null } });

    const without = await lastRequest(
      'query ($query: String!) { search(query: $query) { total } }',
      'swept fluttre',
    );
    expect(without.request?.didYouMean).toBe(false);
  });

  it(`refuses more than ${maxQueryTerms} distinct terms as BAD_USER_INPUT on query, and counts repeats once`, async () => {
    const operation = 'query ($query: String!) { search(query: $query) { total } }';
    const words = Array.from({ length: maxQueryTerms + 1 }, (_, i) => `term${i}`).join(' ');
    const refused = await stack.graphql(operation, { variables: { query: words }, token });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'query' });

    const repeated = await stack.graphql<{ search: { total: number } }>(operation, {
      variables: { query: 'the wing '.repeat(50) },
      token,
    });
    expect(repeated.errors).toBeUndefined();
    expect(repeated.data?.search.total).toBe(1);
  });
});

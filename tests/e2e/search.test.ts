import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

interface SearchData {
  search: {
    total: number;
    stale: boolean;
    hits: {
      score: number;
      highlights: { field: string; snippets: string[] }[];
      document: { id: string; title: string } | null;
    }[];
    facets: { field: string; buckets: { value: string; count: number }[] }[];
    pageInfo: { endCursor: string | null; hasNextPage: boolean };
  };
}

const searchQuery = `query ($query: String!, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String, $facets: [FacetField!]) {
  search(query: $query, filter: $filter, sort: $sort, first: $first, after: $after, facets: $facets) {
    total stale
    hits { score highlights { field snippets } document { id title } }
    facets { field buckets { value count } }
    pageInfo { endCursor hasNextPage }
  }
}`;

describe('search through the gateway', () => {
  let stack: TestStack;
  let token: string;

  beforeAll(async () => {
    stack = await startTestStack();
    token = await stack.token('tenant-search');
    const documents = [
      {
        title: 'Kubernetes deployment guide',
        body: 'How we deploy the gateway with rolling updates.',
        tags: ['ops', 'k8s'],
        author: 'ada',
        status: 'PUBLISHED',
      },
      {
        title: 'Gateway design',
        body: 'The gateway plans queries across subgraphs and deploys on kubernetes.',
        tags: ['design'],
        author: 'grace',
        status: 'DRAFT',
      },
      {
        title: 'Running the test suite',
        body: 'Run npm test; the suite starts Redis itself.',
        tags: ['ops'],
        author: 'ada',
        status: 'PUBLISHED',
      },
      ...Array.from({ length: 12 }, (_, index) => ({
        title: `Paging note ${String(index).padStart(2, '0')}`,
        body: 'paging body text',
        tags: ['paging'],
        author: 'linus',
        status: 'ARCHIVED',
      })),
    ];
    for (const input of documents) {
      const result = await stack.graphql(
        'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }',
        {
          variables: { input },
          token,
        },
      );
      expect(result.errors).toBeUndefined();
    }
    await stack.settle();
  });
  afterAll(() => stack.stop());

  const search = (variables: Record<string, unknown>) =>
    stack.graphql<SearchData>(searchQuery, { variables, token });

  it('finds documents with federated fields, highlights and relevance order', async () => {
    const result = await search({ query: 'kubernetes' });
    expect(result.errors).toBeUndefined();
    const { hits, total, stale } = result.data!.search;
    expect(total).toBe(2);
    expect(stale).toBe(false);
    expect(hits.map((hit) => hit.document?.title)).toEqual(['Kubernetes deployment guide', 'Gateway design']);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(hits[0]!.highlights).toContainEqual({
      field: 'title',
      snippets: ['<em>Kubernetes</em> deployment guide'],
    });
  });

  it('ranks by relevance when sort is an explicit null, as when it is left out', async () => {
    const result = await search({ query: 'kubernetes', sort: null });
    expect(result.errors).toBeUndefined();
    // Newest first would put "Gateway design", written later, first.
    expect(result.data!.search.hits.map((hit) => hit.document?.title)).toEqual([
      'Kubernetes deployment guide',
      'Gateway design',
    ]);
  });

  it('stems English words', async () => {
    const result = await search({ query: 'runs' });
    expect(result.data!.search.hits.map((hit) => hit.document?.title)).toContain('Running the test suite');
  });

  it('filters and counts facets over all matches', async () => {
    const result = await search({
      query: '',
      filter: { tags: ['ops'] },
      facets: ['STATUS', 'AUTHOR', 'TAGS'],
    });
    const { total, facets } = result.data!.search;
    expect(total).toBe(2);
    expect(facets).toEqual([
      { field: 'STATUS', buckets: [{ value: 'PUBLISHED', count: 2 }] },
      { field: 'AUTHOR', buckets: [{ value: 'ada', count: 2 }] },
      {
        field: 'TAGS',
        buckets: [
          { value: 'ops', count: 2 },
          { value: 'k8s', count: 1 },
        ],
      },
    ]);
  });

  it('pages through results with cursors, visiting each hit once', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const result: Awaited<ReturnType<typeof search>> = await search({
        query: 'paging',
        first: 5,
        after,
        sort: 'UPDATED_ASC',
      });
      expect(result.errors).toBeUndefined();
      const page = result.data!.search;
      seen.push(...page.hits.map((hit) => hit.document!.title));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      pages += 1;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toEqual(
      Array.from({ length: 12 }, (_, index) => `Paging note ${String(index).padStart(2, '0')}`),
    );
  });

  it('rejects a tampered cursor and a cursor reused for another query', async () => {
    const first = await search({ query: 'paging', first: 2 });
    const cursor = first.data!.search.pageInfo.endCursor!;
    const tampered = `${cursor.slice(0, -2)}${cursor.endsWith('A') ? 'B' : 'A'}A`;
    for (const variables of [
      { query: 'paging', first: 2, after: tampered },
      { query: 'paging', first: 2, after: 'not-a-cursor' },
      { query: 'kubernetes', first: 2, after: cursor },
    ]) {
      const result = await search(variables);
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });

  it.each([0, 101, -1])('refuses first: %i', async (first) => {
    const result = await search({ query: 'paging', first });
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it('suggests titles by prefix', async () => {
    const result = await stack.graphql<{ suggest: string[] }>('{ suggest(prefix: "kube", first: 5) }', {
      token,
    });
    expect(result.data?.suggest).toEqual(['Kubernetes deployment guide']);
  });

  it('makes a new document searchable within a second, and a deleted one disappear', async () => {
    const created = await stack.graphql<{ createDocument: { id: string } }>(
      'mutation { createDocument(input: { title: "Zebra migration", body: "stripes" }) { id } }',
      { token },
    );
    const id = created.data!.createDocument.id;
    const started = Date.now();
    let found = false;
    while (!found && Date.now() - started < 1000) {
      found = (await search({ query: 'zebra' })).data!.search.total === 1;
    }
    expect(found).toBe(true);

    await stack.graphql('mutation ($id: ID!) { deleteDocument(id: $id) }', { variables: { id }, token });
    await stack.settle();
    expect((await search({ query: 'zebra' })).data!.search.total).toBe(0);
  });
});

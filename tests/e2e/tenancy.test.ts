import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Tenant A's data, probed from tenant B through every read path. */
describe('tenant isolation', () => {
  let stack: TestStack;
  let tokenA: string;
  let tokenB: string;
  let secretId: string;

  beforeAll(async () => {
    stack = await startTestStack();
    tokenA = await stack.token('tenant-a');
    tokenB = await stack.token('tenant-b');
    const created = await stack.graphql<{ createDocument: { id: string } }>(
      'mutation { createDocument(input: { title: "Merger plans", body: "confidential acquisition", tags: ["secret"], author: "ceo-a" }) { id } }',
      { token: tokenA },
    );
    secretId = created.data!.createDocument.id;
    await stack.graphql(
      'mutation { createDocument(input: { title: "Merger rumours", body: "public gossip", tags: ["news"] }) { id } }',
      {
        token: tokenB,
      },
    );
    for (let page = 0; page < 3; page += 1) {
      await stack.graphql(
        `mutation { createDocument(input: { title: "Merger memo ${page}", body: "memo" }) { id } }`,
        { token: tokenA },
      );
    }
    await stack.settle();
  });
  afterAll(() => stack.stop());

  it("search, facets and totals show only the caller's documents", async () => {
    const result = await stack.graphql<{
      search: {
        total: number;
        hits: { document: { id: string; title: string } }[];
        facets: { buckets: { value: string }[] }[];
      };
    }>(
      '{ search(query: "merger", facets: [TAGS, AUTHOR]) { total hits { document { id title } } facets { buckets { value } } } }',
      {
        token: tokenB,
      },
    );
    const { total, hits, facets } = result.data!.search;
    expect(total).toBe(1);
    expect(hits.map((hit) => hit.document.title)).toEqual(['Merger rumours']);
    const values = facets.flatMap((facet) => facet.buckets.map((bucket) => bucket.value));
    expect(values).not.toContain('secret');
    expect(values).not.toContain('ceo-a');
  });

  it("suggest does not complete another tenant's titles", async () => {
    const result = await stack.graphql<{ suggest: string[] }>('{ suggest(prefix: "merg", first: 10) }', {
      token: tokenB,
    });
    expect(result.data?.suggest).toEqual(['Merger rumours']);
  });

  it("document and documents return null for another tenant's id", async () => {
    const result = await stack.graphql(
      'query ($id: ID!) { document(id: $id) { id } documents(ids: [$id]) { id } }',
      {
        variables: { id: secretId },
        token: tokenB,
      },
    );
    expect(result.data).toEqual({ document: null, documents: [null] });
  });

  it("writes cannot reach another tenant's document", async () => {
    const update = await stack.graphql(
      'mutation ($id: ID!) { updateDocument(id: $id, input: { title: "pwned" }) { id } }',
      {
        variables: { id: secretId },
        token: tokenB,
      },
    );
    expect(update.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const remove = await stack.graphql('mutation ($id: ID!) { deleteDocument(id: $id) }', {
      variables: { id: secretId },
      token: tokenB,
    });
    expect(remove.data).toEqual({ deleteDocument: false });
    const stillThere = await stack.graphql<{ document: { title: string } }>(
      'query ($id: ID!) { document(id: $id) { title } }',
      {
        variables: { id: secretId },
        token: tokenA,
      },
    );
    expect(stillThere.data?.document.title).toBe('Merger plans');
  });

  it("entity resolution sent straight to the documents subgraph stays in the token's tenant", async () => {
    const entities =
      'query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on Document { id title } } }';
    const variables = { representations: [{ __typename: 'Document', id: secretId }] };
    const asB = await stack.graphql(entities, { variables, token: tokenB, url: stack.documentsUrl });
    expect(asB.data).toEqual({ _entities: [null] });
    const asA = await stack.graphql(entities, { variables, token: tokenA, url: stack.documentsUrl });
    expect(asA.data).toEqual({ _entities: [{ id: secretId, title: 'Merger plans' }] });
  });

  it("tenant A's synonyms never change tenant B's results", async () => {
    const scopes = ['documents:read', 'documents:write', 'search:admin'];
    const adminA = await stack.token('tenant-a', { scopes });
    const create =
      'mutation ($title: String!) { createDocument(input: { title: $title, body: "b" }) { id } }';
    for (const token of [tokenA, tokenB])
      for (const title of ['Kubernetes operators', 'K8s upgrades'])
        await stack.graphql(create, { variables: { title }, token });
    await stack.settle();
    const titles = async (token: string) => {
      const result = await stack.graphql<{ search: { hits: { document: { title: string } }[] } }>(
        '{ search(query: "k8s") { hits { document { title } } } }',
        { token },
      );
      return result.data?.search.hits.map((hit) => hit.document.title);
    };
    expect(await titles(tokenB)).toEqual(['K8s upgrades']);

    const set = await stack.graphql(
      'mutation { setSynonyms(input: { equivalents: [{ words: ["k8s", "kubernetes"] }], rules: [] }) { rules { word } } }',
      { token: adminA },
    );
    expect(set.errors).toBeUndefined();
    expect(await titles(tokenA)).toEqual(['K8s upgrades', 'Kubernetes operators']);
    expect(await titles(tokenB)).toEqual(['K8s upgrades']);
    const ofB = await stack.graphql('{ synonyms { equivalents { words } } }', {
      token: await stack.token('tenant-b', { scopes }),
    });
    expect(ofB.data).toEqual({ synonyms: { equivalents: [] } });
  });

  it('a cursor issued to tenant A is refused for tenant B', async () => {
    const query =
      'query ($after: String) { search(query: "merger", first: 1, after: $after) { pageInfo { endCursor } } }';
    const pageA = await stack.graphql<{ search: { pageInfo: { endCursor: string } } }>(query, {
      token: tokenA,
    });
    const cursor = pageA.data!.search.pageInfo.endCursor;
    const reusedByB = await stack.graphql(query, { variables: { after: cursor }, token: tokenB });
    expect(reusedByB.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const reusedByA = await stack.graphql(query, { variables: { after: cursor }, token: tokenA });
    expect(reusedByA.errors).toBeUndefined();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

const setSynonyms = `mutation ($input: SynonymsInput!) {
  setSynonyms(input: $input) { equivalents { words } rules { word synonyms } }
}`;
const readSynonyms = '{ synonyms { equivalents { words } rules { word synonyms } } }';
const searchTitles = 'query ($query: String!) { search(query: $query) { hits { document { title } } } }';

const laptopRule = { equivalents: [], rules: [{ word: 'Laptop', synonyms: ['notebook'] }] };

describe('synonyms through the gateway', () => {
  let stack: TestStack;
  let admin: string;
  let writer: string;

  const titles = async (query: string) => {
    const result = await stack.graphql<{ search: { hits: { document: { title: string } }[] } }>(
      searchTitles,
      {
        variables: { query },
        token: writer,
      },
    );
    return result.data?.search.hits.map((hit) => hit.document.title);
  };

  beforeAll(async () => {
    stack = await startTestStack();
    admin = await stack.token('synonyms', { scopes: ['documents:read', 'documents:write', 'search:admin'] });
    writer = await stack.token('synonyms');
    for (const title of ['Laptop stands', 'Notebook batteries']) {
      await stack.graphql(
        'mutation ($title: String!) { createDocument(input: { title: $title, body: "b" }) { id } }',
        {
          variables: { title },
          token: writer,
        },
      );
    }
    await stack.settle();
  });
  afterAll(() => stack.stop());

  it('refuses the query and the mutation without the search:admin scope', async () => {
    const read = await stack.graphql(readSynonyms, { token: writer });
    expect(read.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(read.errors?.[0]?.message).toContain('search:admin');
    const write = await stack.graphql(setSynonyms, { variables: { input: laptopRule }, token: writer });
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Like every mutation, it also needs documents:write.
    const readOnlyAdmin = await stack.token('synonyms', { scopes: ['documents:read', 'search:admin'] });
    const refused = await stack.graphql(setSynonyms, {
      variables: { input: laptopRule },
      token: readOnlyAdmin,
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await titles('laptop')).toEqual(['Laptop stands']);
  });

  it('applies a change to the next search, even one whose page was cached', async () => {
    // Cached now, in the search subgraph and in the gateway's response cache.
    expect(await titles('laptop')).toEqual(['Laptop stands']);
    const set = await stack.graphql(setSynonyms, { variables: { input: laptopRule }, token: admin });
    expect(set).toMatchObject({
      data: { setSynonyms: { equivalents: [], rules: [{ word: 'laptop', synonyms: ['notebook'] }] } },
    });
    expect(await stack.graphql(readSynonyms, { token: admin })).toMatchObject({
      data: { synonyms: { equivalents: [], rules: [{ word: 'laptop', synonyms: ['notebook'] }] } },
    });
    expect(await titles('laptop')).toEqual(['Laptop stands', 'Notebook batteries']);
    expect(await titles('notebook')).toEqual(['Notebook batteries']);

    await stack.graphql(setSynonyms, { variables: { input: { equivalents: [], rules: [] } }, token: admin });
    expect(await titles('laptop')).toEqual(['Laptop stands']);
  });

  it('refuses synonyms beyond the bounds with BAD_USER_INPUT naming the field, and keeps the old ones', async () => {
    await stack.graphql(setSynonyms, { variables: { input: laptopRule }, token: admin });
    const input = { equivalents: [{ words: ['alone'] }], rules: [] };
    const result = await stack.graphql(setSynonyms, { variables: { input }, token: admin });
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.equivalents[0].words',
    });
    expect(await titles('laptop')).toEqual(['Laptop stands', 'Notebook batteries']);
  });
});

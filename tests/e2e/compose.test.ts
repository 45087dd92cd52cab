import { describe, expect, it } from 'vitest';

/**
 * Checks a running Quarry from outside, as a client would: the GitHub Actions
 * `compose` job points it at `docker compose up` (MongoDB, Elasticsearch,
 * Redis and the image built from the Dockerfile). Without a stack to talk to
 * it reports itself as skipped.
 */
const url = process.env.QUARRY_E2E_URL;
const token = process.env.QUARRY_E2E_TOKEN ?? '';
const otherToken = process.env.QUARRY_E2E_OTHER_TOKEN ?? '';
/** Indexing through the outbox and Elasticsearch's refresh, with room for a cold cluster. */
const searchableWithinMs = 30_000;

interface GraphqlResult<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

async function graphql<T>(bearer: string, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(url as string, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphqlResult<T>;
}

async function searchUntilFound(bearer: string, text: string, id: string) {
  const deadline = Date.now() + searchableWithinMs;
  for (;;) {
    const result = await graphql<{ search: { hits: { document: { id: string } }[] } }>(
      bearer,
      'query ($q: String!) { search(query: $q) { hits { document { id } } } }',
      { q: text },
    );
    const ids = result.data?.search.hits.map((hit) => hit.document.id) ?? [];
    if (ids.includes(id) || Date.now() > deadline) return ids;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe.skipIf(!url)(
  `a running stack at QUARRY_E2E_URL${url ? '' : ' (skipped: QUARRY_E2E_URL is not set)'}`,
  () => {
    it('creates a document, finds it through search with its fields, and hides it from another tenant', async () => {
      const word = `compose${Date.now()}`;
      const created = await graphql<{ createDocument: { id: string } }>(
        token,
        'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }',
        {
          input: { title: `Compose check ${word}`, body: 'Written through the gateway of a compose stack.' },
        },
      );
      expect(created.errors).toBeUndefined();
      const id = created.data?.createDocument.id as string;

      expect(await searchUntilFound(token, word, id)).toContain(id);
      const read = await graphql<{ document: { title: string } | null }>(
        token,
        'query ($id: ID!) { document(id: $id) { title } }',
        { id },
      );
      expect(read.data?.document?.title).toBe(`Compose check ${word}`);

      const other = await graphql<{ document: unknown; search: { total: number } }>(
        otherToken,
        'query ($id: ID!, $q: String!) { document(id: $id) { id } search(query: $q) { total } }',
        { id, q: word },
      );
      expect(other.data).toEqual({ document: null, search: { total: 0 } });
    });
  },
);

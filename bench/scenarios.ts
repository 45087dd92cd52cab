import { createHash } from 'node:crypto';
import { type Corpus, createRandom, documentId, probeTerm } from './corpus.ts';
import type { RunnerRequest } from './load-runner.ts';

export const scenarioNames = ['search', 'search-cached', 'documents', 'persisted', 'write-mix'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export const scenarioTitles: Record<ScenarioName, string> = {
  search: 'Federated search page (20 hits, documents, highlights, facets; varied terms and tenants)',
  'search-cached': 'The same search page repeated (cacheable)',
  documents: '`documents(ids:)` for 50 ids',
  persisted: "A partner's persisted query (APQ hash only)",
  'write-mix': 'Search with 10% `createDocument` writes',
};

/** The page a search UI asks for: one search call, then one batched document fetch for the 20 hits. */
export const searchPageQuery = `query SearchPage($query: String!) {
  search(query: $query, first: 20, facets: [TAGS, STATUS, AUTHOR]) {
    total
    hits { score highlights { field snippets } document { id title tags author status updatedAt } }
    facets { field buckets { value count } }
    pageInfo { endCursor hasNextPage }
  }
}`;

export const documentsQuery = `query Documents($ids: [ID!]!) {
  documents(ids: $ids) { id title tags author status version updatedAt }
}`;

export const createMutation = `mutation Create($input: CreateDocumentInput!) {
  createDocument(input: $input) { id version }
}`;

/** What a partner integration persists: a smaller search without facets. */
export const partnerQuery = `query PartnerSearch($query: String!) {
  search(query: $query, first: 10) { total hits { score document { id title updatedAt } } }
}`;
export const partnerQueryHash = createHash('sha256').update(partnerQuery).digest('hex');

/** Quarry's persisted query manifest for the bench: the committed one plus the partner query, as a partner would get it safelisted. */
export function partnerManifest(committed: string): string {
  const manifest = JSON.parse(committed) as { operations: unknown[] };
  manifest.operations.push({
    id: partnerQueryHash,
    name: 'PartnerSearch',
    type: 'query',
    body: partnerQuery,
  });
  return JSON.stringify(manifest);
}

export interface Tokens {
  /** First-party tokens with read and write scopes, one per tenant (corpus order). */
  user: string[];
  /** Partner tokens (`client_type: partner`, read only), one per tenant. */
  partner: string[];
}

/** How many distinct requests each scenario cycles through. */
const variety = 400;

const post = (token: string, body: unknown): RunnerRequest => ({
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  body: JSON.stringify(body),
});

/** Mostly mid-frequency body terms, some topic words from titles, some two-term queries: a UI's mix. */
function searchTerm(corpus: Corpus, i: number): string {
  const mid = corpus.terms.mid;
  if (i % 5 === 3) return `${mid[i % mid.length]} ${corpus.terms.common[i % corpus.terms.common.length]}`;
  if (i % 5 === 4)
    return ['kubernetes runbook', 'incident', 'postgres', 'deploy', 'billing'][Math.floor(i / 5) % 5]!;
  return mid[(i * 7) % mid.length]!;
}

export function searchRequest(corpus: Corpus, tokens: Tokens, i: number): RunnerRequest {
  const tenant = i % corpus.tenants.length;
  return post(tokens.user[tenant]!, {
    operationName: 'SearchPage',
    query: searchPageQuery,
    variables: { query: searchTerm(corpus, i) },
  });
}

/**
 * Registers the partner query through APQ, for the peers. Sent with a first-party token: Quarry
 * refuses query text from partners, and serves the same hash from its safelist instead (the bench
 * adds the query to Quarry's manifest, see `partnerManifest`).
 */
export function persistedRegistration(tokens: Tokens, term: string): RunnerRequest {
  return post(tokens.user[0]!, {
    operationName: 'PartnerSearch',
    query: partnerQuery,
    variables: { query: term },
    extensions: { persistedQuery: { version: 1, sha256Hash: partnerQueryHash } },
  });
}

export function buildScenario(name: ScenarioName, corpus: Corpus, tokens: Tokens): RunnerRequest[] {
  const random = createRandom(1234);
  switch (name) {
    case 'search':
      return Array.from({ length: variety }, (_, i) => searchRequest(corpus, tokens, i));
    case 'search-cached':
      return [searchRequest(corpus, tokens, 0)];
    case 'documents':
      return Array.from({ length: variety }, (_, i) => {
        const tenant = i % corpus.tenants.length;
        const tenantId = corpus.tenants[tenant]!;
        const size = Math.max(1, corpus.documentsPerTenant[tenant]!);
        const ids = Array.from({ length: 50 }, () => documentId(tenantId, Math.floor(random() * size)));
        return post(tokens.user[tenant]!, {
          operationName: 'Documents',
          query: documentsQuery,
          variables: { ids },
        });
      });
    case 'persisted':
      return Array.from({ length: variety }, (_, i) => {
        const tenant = i % corpus.tenants.length;
        return post(tokens.partner[tenant]!, {
          operationName: 'PartnerSearch',
          variables: { query: searchTerm(corpus, i) },
          extensions: { persistedQuery: { version: 1, sha256Hash: partnerQueryHash } },
        });
      });
    case 'write-mix':
      return Array.from({ length: variety }, (_, i) => {
        if (i % 10 !== 9) return searchRequest(corpus, tokens, i);
        const tenant = i % corpus.tenants.length;
        const words = corpus.terms.mid;
        return post(tokens.user[tenant]!, {
          operationName: 'Create',
          query: createMutation,
          variables: {
            input: {
              title: `bench write ${words[i % words.length]}`,
              body: Array.from({ length: 40 }, (_, w) => words[(i + w) % words.length]).join(' '),
              tags: ['bench', 'write'],
              author: 'bench.writer',
              status: 'PUBLISHED',
            },
          },
        });
      });
  }
}

/** The counted probe: the first search page of a gateway's own probe tenant (see `probeDocuments`). */
export function probePage(token: string): RunnerRequest {
  return post(token, {
    operationName: 'SearchPage',
    query: searchPageQuery,
    variables: { query: probeTerm },
  });
}

/** The readiness check: one search page for a term found in most documents, so the page has hits to federate. */
export function readinessRequest(corpus: Corpus, tokens: Tokens): RunnerRequest {
  return post(tokens.user[0]!, {
    operationName: 'SearchPage',
    query: searchPageQuery,
    variables: { query: corpus.terms.common[0] },
  });
}

/**
 * What the gateways send the subgraphs, sent to them directly: run once
 * before the first gateway, so no gateway pays for the subgraphs' JIT
 * warm-up or SQLite's cold page cache.
 */
export function subgraphWarmup(
  corpus: Corpus,
  tokens: Tokens,
): { search: RunnerRequest[]; documents: RunnerRequest[] } {
  const random = createRandom(99);
  return {
    search: Array.from({ length: variety }, (_, i) =>
      post(tokens.user[i % corpus.tenants.length]!, {
        query: `query ($query: String!) { search(query: $query, first: 20, facets: [TAGS, STATUS, AUTHOR]) {
          total hits { score highlights { field snippets } document { id } }
          facets { field buckets { value count } } pageInfo { endCursor hasNextPage } } }`,
        variables: { query: searchTerm(corpus, i) },
      }),
    ),
    documents: Array.from({ length: variety }, (_, i) => {
      const tenant = i % corpus.tenants.length;
      const size = Math.max(1, corpus.documentsPerTenant[tenant]!);
      return post(tokens.user[tenant]!, {
        query: `query ($representations: [_Any!]!) { _entities(representations: $representations) {
          ... on Document { id title tags author status updatedAt } } }`,
        variables: {
          representations: Array.from({ length: 20 }, () => ({
            __typename: 'Document',
            id: documentId(corpus.tenants[tenant]!, Math.floor(random() * size)),
          })),
        },
      });
    }),
  };
}

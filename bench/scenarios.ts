import { createHash } from 'node:crypto';
import { type Corpus, createRandom, documentId, probeTerm, zipfSampler } from './corpus.ts';
import type { RunnerRequest } from './load-runner.ts';

export const scenarioNames = [
  'search',
  'search-cached',
  'documents',
  'persisted',
  'write-mix',
  'unique',
  'realistic',
  'natural-language',
  'noisy-neighbour',
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export const scenarioTitles: Record<ScenarioName, string> = {
  search: 'Federated search page (20 hits, documents, highlights, facets; varied terms and tenants)',
  'search-cached': 'The same search page repeated (cacheable)',
  documents: '`documents(ids:)` for 50 ids',
  persisted: "A partner's persisted query (APQ hash only)",
  'write-mix': 'Search with 10% `createDocument` writes',
  unique:
    'Every request unique: the search page with a never-repeated query (every cache misses: the engine path)',
  realistic:
    'Realistic mix: 10,000 distinct queries drawn Zipf (s = 1), tenants weighted by their Zipf sizes, 5% writes',
  'natural-language': 'Natural-language queries: several words, common ones included',
  'noisy-neighbour':
    "Noisy neighbour: one tenant's ordinary searches at a fixed rate, alone and while another floods expensive searches",
};

/** What a scenario sends: its requests, and for some the runner's unique queries or a flood beside them. */
export interface ScenarioLoad {
  requests: RunnerRequest[];
  /** Words the runner builds never-repeated queries from (see `uniqueQuery` in load-runner.ts). */
  unique?: { primary: string[]; secondary: string[] };
  flood?: { connections: number; requests: RunnerRequest[] };
}

/**
 * The noisy neighbour's victim sends this many searches a second: an ordinary
 * tenant's pace, well within the standard tier, and the same on every
 * gateway, however fast the machine (half a fast gateway's maximum would
 * make the victim itself exceed its own tenant's bounds).
 */
export const victimRate = 15;

/** Connections the noisy neighbour floods with. */
export const floodConnections = 20;
/** Distinct queries in the realistic mix, and the share of its requests that are writes. */
export const realisticQueries = 10_000;
export const realisticWriteShare = 0.05;
/** Requests in the realistic mix's sequence: long enough that a run rarely cycles through it. */
const realisticRequests = 40_000;

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
  /**
   * First-party tokens under Quarry's production rate limit (the `standard` tier), one per tenant:
   * the noisy neighbour measures Quarry as deployed. The other tokens carry the bench's unlimited tier.
   */
  rateLimited: string[];
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

function createRequest(
  corpus: Corpus,
  tokens: Tokens,
  i: number,
  tenant = i % corpus.tenants.length,
): RunnerRequest {
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
}

const searchPage = (token: string, query: string): RunnerRequest =>
  post(token, { operationName: 'SearchPage', query: searchPageQuery, variables: { query } });

/** Words for unique queries: a mid-frequency word (enough hits for a full page) and a common one. */
function uniqueWords(corpus: Corpus): { primary: string[]; secondary: string[] } {
  return { primary: corpus.vocabulary.slice(50, 5050), secondary: corpus.vocabulary.slice(0, 20) };
}

/**
 * The realistic mix: query k of 10,000 is asked with probability ∝ 1/(k+1), from a tenant chosen in
 * proportion to its size; 1 to 3 words drawn Zipf from the corpus vocabulary.
 */
function realisticMix(corpus: Corpus, tokens: Tokens): RunnerRequest[] {
  const random = createRandom(4242);
  const word = zipfSampler(corpus.vocabulary.length, 1);
  const tenantBySize = weightedPicker(corpus.documentsPerTenant);
  const queries = Array.from({ length: realisticQueries }, () => {
    const length = random() < 0.5 ? 1 : random() < 0.7 ? 2 : 3;
    const text = Array.from({ length }, () => corpus.vocabulary[word(random)]!).join(' ');
    return { tenant: tenantBySize(random), text };
  });
  const popularity = zipfSampler(realisticQueries, 1);
  return Array.from({ length: realisticRequests }, (_, i) => {
    // Writes come from tenants in proportion to their size too, as reads do.
    if (random() < realisticWriteShare) return createRequest(corpus, tokens, i, tenantBySize(random));
    const { tenant, text } = queries[popularity(random)]!;
    return searchPage(tokens.user[tenant]!, text);
  });
}

/** Picks an index with probability proportional to its weight. */
function weightedPicker(weights: number[]): (random: () => number) => number {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  return (random) => {
    let target = random() * total;
    for (let i = 0; i < weights.length; i += 1) {
      target -= weights[i]!;
      if (target < 0) return i;
    }
    return weights.length - 1;
  };
}

/** Words people put around their keywords: the corpus's most common ones stand in for "how", "the", "to". */
function naturalLanguage(corpus: Corpus, tokens: Tokens): RunnerRequest[] {
  const random = createRandom(777);
  const common = corpus.vocabulary.slice(0, 10);
  const keyword = zipfSampler(corpus.vocabulary.length, 1);
  const topics = ['kubernetes', 'runbook', 'postgres', 'incident', 'deploy', 'billing', 'latency', 'backup'];
  return Array.from({ length: 5000 }, (_, i) => {
    const words = [
      common[Math.floor(random() * common.length)]!,
      topics[Math.floor(random() * topics.length)]!,
      common[Math.floor(random() * common.length)]!,
      corpus.vocabulary[keyword(random)]!,
      ...(random() < 0.5 ? [corpus.vocabulary[keyword(random)]!] : []),
      ...(random() < 0.5 ? [common[Math.floor(random() * common.length)]!] : []),
    ];
    return searchPage(tokens.user[i % corpus.tenants.length]!, words.join(' '));
  });
}

/** What the flooding tenant sends: the expensive searches and oversized queries of the bounded-cost issue. */
export const floodQuery = `query Flood($query: String!, $first: Int!) {
  ${Array.from(
    { length: 15 },
    (_, i) =>
      `a${i}: search(query: $query, first: $first) { total hits { highlights { field snippets } document { id title body } } }`,
  ).join('\n  ')}
}`;

function noisyNeighbour(corpus: Corpus, tokens: Tokens): ScenarioLoad {
  // The victim is the second-largest tenant; the flood comes from the largest, whose bodies match the most.
  const victim = 1 % corpus.tenants.length;
  const common = corpus.vocabulary.slice(0, 16);
  const flood = [
    // Every common word, and one repeated, over many long bodies, first from a variable.
    post(tokens.rateLimited[0]!, {
      operationName: 'SearchPage',
      query: searchPageQuery,
      variables: { query: common.join(' ') },
    }),
    post(tokens.rateLimited[0]!, {
      operationName: 'Flood',
      query: floodQuery,
      variables: { query: Array.from({ length: 124 }, () => common[0]).join(' '), first: 100 },
    }),
    post(tokens.rateLimited[0]!, {
      operationName: 'Flood',
      query: floodQuery,
      variables: { query: common.slice(0, 10).join(' '), first: 100 },
    }),
  ];
  return {
    requests: [searchPage(tokens.rateLimited[victim]!, '__UNIQUE__')],
    unique: uniqueWords(corpus),
    flood: { connections: floodConnections, requests: flood },
  };
}

export function buildScenario(name: ScenarioName, corpus: Corpus, tokens: Tokens): ScenarioLoad {
  const random = createRandom(1234);
  switch (name) {
    case 'search':
      return { requests: Array.from({ length: variety }, (_, i) => searchRequest(corpus, tokens, i)) };
    case 'search-cached':
      return { requests: [searchRequest(corpus, tokens, 0)] };
    case 'documents':
      return {
        requests: Array.from({ length: variety }, (_, i) => {
          const tenant = i % corpus.tenants.length;
          const tenantId = corpus.tenants[tenant]!;
          const size = Math.max(1, corpus.documentsPerTenant[tenant]!);
          const ids = Array.from({ length: 50 }, () => documentId(tenantId, Math.floor(random() * size)));
          return post(tokens.user[tenant]!, {
            operationName: 'Documents',
            query: documentsQuery,
            variables: { ids },
          });
        }),
      };
    case 'persisted':
      return {
        requests: Array.from({ length: variety }, (_, i) => {
          const tenant = i % corpus.tenants.length;
          return post(tokens.partner[tenant]!, {
            operationName: 'PartnerSearch',
            variables: { query: searchTerm(corpus, i) },
            extensions: { persistedQuery: { version: 1, sha256Hash: partnerQueryHash } },
          });
        }),
      };
    case 'write-mix':
      return {
        requests: Array.from({ length: variety }, (_, i) =>
          i % 10 === 9 ? createRequest(corpus, tokens, i) : searchRequest(corpus, tokens, i),
        ),
      };
    case 'unique':
      return {
        requests: corpus.tenants.map((_, tenant) => searchPage(tokens.user[tenant]!, '__UNIQUE__')),
        unique: uniqueWords(corpus),
      };
    case 'realistic':
      return { requests: realisticMix(corpus, tokens) };
    case 'natural-language':
      return { requests: naturalLanguage(corpus, tokens) };
    case 'noisy-neighbour':
      return noisyNeighbour(corpus, tokens);
  }
}

/** Whether a scenario's request is a read, for the hit rate: writes never touch a response cache. */
export const isWrite = (request: RunnerRequest) => request.body.includes('"operationName":"Create"');

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

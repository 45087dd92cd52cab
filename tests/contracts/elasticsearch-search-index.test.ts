import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backendsConcern } from '../../server/config/backends.ts';
import { configLoader } from '../../server/config/compose.ts';
import type { DocumentChange } from '../../server/documents/model.ts';
import { ElasticsearchSearchIndex } from '../../subgraphs/search/adapters/elasticsearch-search-index.ts';
import {
  elasticsearchNames,
  ensureElasticsearchLayout,
} from '../../subgraphs/search/adapters/elasticsearch-setup.ts';
import { indexedId } from '../../subgraphs/search/adapters/elasticsearch-writes.ts';
import { createElasticsearchClient } from '../../subgraphs/search/adapters/index.ts';
import { createCursorCodec } from '../../subgraphs/search/cursor.ts';
import { createSearchResolvers, type SearchContext } from '../../subgraphs/search/resolvers.ts';
import { PagingSessionExpiredError, type SearchRequest } from '../../subgraphs/search/search-index.ts';
import {
  elasticsearchCluster,
  mockedElasticsearch,
  type RecordedRequest,
} from '../helpers/elasticsearch-mock.ts';
import { describeSearchIndexContract } from './search-index.contract.ts';

const names = elasticsearchNames('quarry-documents');
const at = new Date('2024-05-01T00:00:00.000Z');

function upsert(tenantId: string, id: string, version: number, title = 'Title'): DocumentChange {
  return {
    sequence: `${id}-${version}`,
    tenantId,
    documentId: id,
    version,
    operation: 'upsert',
    document: {
      id,
      tenantId,
      title,
      body: 'Body',
      tags: ['x'],
      author: 'ada',
      status: 'PUBLISHED',
      version,
      createdAt: at,
      updatedAt: at,
    },
    committedAt: at,
  };
}

const remove = (tenantId: string, id: string, version: number): DocumentChange => ({
  ...upsert(tenantId, id, version),
  operation: 'delete',
  document: null,
});

const request = (fields: Partial<SearchRequest> = {}): SearchRequest => ({
  tenantId: 'acme',
  text: 'deploy guide',
  filter: {},
  sort: 'RELEVANCE',
  first: 2,
  facets: [],
  ...fields,
});

const emptySearchResponse = {
  hits: { total: { value: 0, relation: 'eq' }, hits: [] },
};

/** Answers searches, in a point in time or not, with `respond`; opening and closing one always succeed. */
function answerSearches(
  es: ReturnType<typeof mockedElasticsearch>,
  respond: (sent: RecordedRequest) => object,
) {
  es.on('POST', '/:index/_pit', () => ({ id: 'pit-1' }));
  es.on('DELETE', '/_pit', () => ({ succeeded: true, num_freed: 1 }));
  es.on('POST', '/_search', respond);
  es.on('POST', '/:index/_search', respond);
}

/** The searches the adapter sent, in order, without the point-in-time calls around them. */
const searchesOf = (es: ReturnType<typeof mockedElasticsearch>) =>
  es.requests.filter((sent) => sent.path.endsWith('/_search'));

/** Two backing indices after a rollover: the old one is only in the read alias. */
const rolledOverAliases = {
  'quarry-documents-g1-000001': { aliases: { 'quarry-documents': {} } },
  'quarry-documents-g1-000002': {
    aliases: { 'quarry-documents': {}, 'quarry-documents-write': { is_write_index: true } },
  },
};

describe('ElasticsearchSearchIndex request shapes (elasticsearch-mock)', () => {
  it('filters by tenant in filter context, routes by tenant, and bounds the total', async () => {
    const es = mockedElasticsearch();
    es.on('POST', '/quarry-documents/_search', () => emptySearchResponse);
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.search(
      request({
        filter: {
          tags: ['ops', 'k8s'],
          status: ['PUBLISHED', 'DRAFT'],
          author: 'ada',
          updatedAfter: new Date('2024-01-01T00:00:00Z'),
          updatedBefore: new Date('2024-02-01T00:00:00Z'),
        },
        facets: ['TAGS', 'AUTHOR'],
        after: [3.5, 'doc-9'],
        highlights: true,
      }),
    );
    const [sent] = es.requests;
    expect(sent?.querystring).toEqual({ routing: 'acme' });
    expect(sent?.body.query.bool.filter).toEqual([
      { term: { tenant_id: 'acme' } },
      { term: { deleted: false } },
      { term: { tags: 'ops' } },
      { term: { tags: 'k8s' } },
      { terms: { status: ['PUBLISHED', 'DRAFT'] } },
      { term: { author: 'ada' } },
      { range: { updated_at: { gt: '2024-01-01T00:00:00.000Z', lt: '2024-02-01T00:00:00.000Z' } } },
    ]);
    // The tenant is never a scoring clause.
    expect(JSON.stringify(sent?.body.query.bool.must)).not.toContain('acme');
    // Any one word makes a candidate (no `operator: and`), as on the embedded index.
    expect(sent?.body.query.bool.must).toEqual([
      {
        bool: {
          must: [],
          should: [
            {
              multi_match: {
                query: 'deploy guide',
                type: 'cross_fields',
                fields: ['title^4', 'tags.text^2', 'body'],
                minimum_should_match: '1',
              },
            },
            {
              multi_match: {
                query: 'deploy guide',
                type: 'best_fields',
                fields: ['title^4', 'tags.text^2', 'body'],
                fuzziness: 'AUTO:5,9',
                prefix_length: 1,
                max_expansions: 3,
                boost: 0.5,
              },
            },
          ],
          minimum_should_match: 1,
        },
      },
    ]);
    expect(sent?.body).toMatchObject({
      size: 3,
      track_total_hits: 10_000,
      sort: [{ _score: { order: 'desc' } }, { doc_id: { order: 'asc' } }],
      search_after: [3.5, 'doc-9'],
      aggs: {
        TAGS: { terms: { field: 'tags', size: 10, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
        AUTHOR: { terms: { field: 'author', size: 10, order: [{ _count: 'desc' }, { _key: 'asc' }] } },
      },
      highlight: {
        pre_tags: ['\uE000'],
        post_tags: ['\uE001'],
        max_analyzed_offset: 10_000,
        fields: { title: { number_of_fragments: 0 }, body: { number_of_fragments: 1 } },
      },
    });
  });

  it('sends stopword-free optional words, required clauses as must, exclusions as must_not', async () => {
    const es = mockedElasticsearch();
    answerSearches(es, () => emptySearchResponse);
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.search(
      request({
        text: 'the wing of +flutter "swept back" deploy* -draft -"old plan" title:x^2',
        typoTolerance: false,
      }),
    );
    const fields = ['title^4', 'tags.text^2', 'body'];
    const [sent] = searchesOf(es);
    expect(sent?.body.query.bool.must).toEqual([
      {
        bool: {
          must: [
            { multi_match: { query: 'flutter', type: 'cross_fields', fields } },
            { multi_match: { query: 'swept back', type: 'phrase', fields } },
          ],
          should: [
            {
              multi_match: {
                query: 'wing title x 2',
                type: 'cross_fields',
                fields,
                minimum_should_match: '1',
              },
            },
            { multi_match: { query: 'deplo', type: 'phrase_prefix', fields } },
          ],
          minimum_should_match: 0,
        },
      },
    ]);
    expect(sent?.body.query.bool.must_not).toEqual([
      { multi_match: { query: 'draft', type: 'cross_fields', fields } },
      { multi_match: { query: 'old plan', type: 'phrase', fields } },
    ]);
  });

  it('sorts by update time with the id as tie-breaker, and drops text-only parts for empty text', async () => {
    const es = mockedElasticsearch();
    answerSearches(es, () => emptySearchResponse);
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.search(request({ text: ' ?! ', sort: 'RELEVANCE' }));
    await index.search(request({ text: 'x', sort: 'UPDATED_ASC' }));
    const [empty, ascending] = searchesOf(es);
    expect(empty?.body.query.bool.must).toEqual([]);
    expect(empty?.body.highlight).toBeUndefined();
    expect(empty?.body.sort).toEqual([{ updated_at: { order: 'desc' } }, { doc_id: { order: 'desc' } }]);
    expect(ascending?.body.sort).toEqual([{ updated_at: { order: 'asc' } }, { doc_id: { order: 'asc' } }]);
    // Highlights cost work per hit: without `highlights` none are asked for, text or not.
    expect(ascending?.body.highlight).toBeUndefined();
  });

  describe('didYouMean', () => {
    const termSuggester = (field: string) => ({
      term: {
        field,
        suggest_mode: 'always',
        max_edits: 2,
        prefix_length: 1,
        min_word_length: 1,
        size: 5,
        sort: 'score',
        string_distance: 'damerau_levenshtein',
      },
    });
    const holding = (term: string) => ({
      bool: {
        should: [{ term: { title: term } }, { term: { body: term } }, { term: { 'tags.text': term } }],
        minimum_should_match: 1,
      },
    });
    // The shard's candidates: "flatter" is two edits from "fluttr", more than a 7-letter word may take.
    const suggest = {
      did_you_mean_title: [
        { text: 'fluttr', offset: 0, length: 7, options: [{ text: 'flatter', score: 0.7, freq: 9 }] },
        { text: 'airodinam', offset: 8, length: 11, options: [] },
        { text: 'presur', offset: 20, length: 7, options: [{ text: 'pressur', score: 0.8, freq: 2 }] },
      ],
      did_you_mean_body: [
        { text: 'fluttr', offset: 0, length: 7, options: [{ text: 'flutter', score: 0.8, freq: 40 }] },
        { text: 'airodinam', offset: 8, length: 11, options: [{ text: 'aerodynam', score: 0.8, freq: 5 }] },
        { text: 'presur', offset: 20, length: 7, options: [] },
      ],
      did_you_mean_tags_text: [],
    };

    function cluster(counts: Record<string, number>) {
      const es = mockedElasticsearch();
      answerSearches(es, (sent) =>
        sent.body.size === 0
          ? {
              hits: { hits: [] },
              aggregations: {
                did_you_mean: {
                  buckets: Object.fromEntries(
                    Object.entries(counts).map(([term, docCount]) => [term, { doc_count: docCount }]),
                  ),
                },
              },
            }
          : { ...emptySearchResponse, suggest },
      );
      return { es, index: new ElasticsearchSearchIndex({ client: es.client, names }) };
    }

    it("suggests in the search request, then counts the words and candidates in the tenant's documents", async () => {
      // "aerodynam" is another tenant's word on this shard: the tenant holds it nowhere.
      const { es, index } = cluster({
        fluttr: 0,
        flutter: 3,
        airodinam: 0,
        aerodynam: 0,
        presur: 0,
        pressur: 1,
      });
      const page = await index.search(
        request({ text: 'Wing fluttre airodinamic presure', didYouMean: true }),
      );
      expect(page.didYouMean).toBe('Wing flutter airodinamic pressure');
      const [searched, counted] = searchesOf(es);
      expect(searchesOf(es)).toHaveLength(2);
      expect(searched?.body.suggest).toEqual({
        // Words under five letters are never corrected, so they are not sent.
        text: 'fluttre airodinamic presure',
        did_you_mean_title: termSuggester('title'),
        did_you_mean_body: termSuggester('body'),
        did_you_mean_tags_text: termSuggester('tags.text'),
      });
      expect(counted?.querystring).toEqual({ routing: 'acme' });
      expect(counted?.body).toEqual({
        size: 0,
        track_total_hits: false,
        query: { bool: { filter: [{ term: { tenant_id: 'acme' } }, { term: { deleted: false } }] } },
        aggs: {
          did_you_mean: {
            filters: {
              filters: {
                fluttr: holding('fluttr'),
                flutter: holding('flutter'),
                airodinam: holding('airodinam'),
                aerodynam: holding('aerodynam'),
                presur: holding('presur'),
                pressur: holding('pressur'),
              },
            },
          },
        },
      });
    });

    it('replaces no word the tenant holds, however close a more frequent word is', async () => {
      const { index } = cluster({
        fluttr: 1,
        flutter: 30,
        airodinam: 0,
        aerodynam: 0,
        presur: 0,
        pressur: 0,
      });
      const page = await index.search(request({ text: 'fluttre airodinamic presure', didYouMean: true }));
      expect(page.didYouMean).toBeUndefined();
    });

    it('sends one request and no suggester unless asked for, and none with typo tolerance off', async () => {
      const { es, index } = cluster({});
      await index.search(request({ text: 'fluttre' }));
      await index.search(request({ text: 'fluttre', didYouMean: true, typoTolerance: false }));
      await index.search(request({ text: 'wing', didYouMean: true }));
      expect(searchesOf(es)).toHaveLength(3);
      expect(searchesOf(es).map((sent) => sent.body.suggest)).toEqual([undefined, undefined, undefined]);
    });
  });

  it('turns a response into a page: escaped highlights, sort keys, capped total, facets', async () => {
    const es = mockedElasticsearch();
    answerSearches(es, () => ({
      hits: {
        total: { value: 10_000, relation: 'gte' },
        hits: [
          {
            _id: 'acme/a',
            _score: 2.5,
            _source: { doc_id: 'a' },
            sort: [2.5, 'a'],
            highlight: {
              title: ['\uE000Deploy\uE001 <script>"x"</script> & friends'],
              body: ["Ops' notes on \uE000deploy\uE001"],
            },
          },
          { _id: 'acme/b', _score: 1.5, _source: { doc_id: 'b' }, sort: [1.5, 'b'] },
          { _id: 'acme/c', _score: 1, _source: { doc_id: 'c' }, sort: [1, 'c'] },
        ],
      },
      aggregations: { TAGS: { buckets: [{ key: 'ops', doc_count: 7 }] } },
    }));
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    const page = await index.search(request({ facets: ['TAGS', 'STATUS'] }));
    expect(page.total).toBe(10_000);
    expect(page.hasNextPage).toBe(true);
    expect(page.hits.map((hit) => [hit.documentId, hit.score, hit.sortKey])).toEqual([
      ['a', 2.5, [2.5, 'a']],
      ['b', 1.5, [1.5, 'b']],
    ]);
    expect(page.hits[0]?.highlights).toEqual([
      {
        field: 'title',
        snippets: ['<em>Deploy</em> &lt;script&gt;&quot;x&quot;&lt;/script&gt; &amp; friends'],
      },
      { field: 'body', snippets: ['Ops&#39; notes on <em>deploy</em>'] },
    ]);
    expect(page.hits[1]?.highlights).toEqual([]);
    expect(page.facets).toEqual([
      { field: 'TAGS', buckets: [{ value: 'ops', count: 7 }] },
      { field: 'STATUS', buckets: [] },
    ]);
  });

  it('suggests from the search-as-you-type field, one per title, scoped and routed by tenant', async () => {
    const es = mockedElasticsearch();
    es.on('POST', '/quarry-documents/_search', () => ({
      hits: {
        total: { value: 1, relation: 'eq' },
        hits: [{ _id: 'x', _source: { title: 'Database guide' } }],
      },
    }));
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    expect(await index.suggest('acme', 'data', 5)).toEqual(['Database guide']);
    expect(await index.suggest('acme', '  ', 5)).toEqual([]);
    expect(await index.suggest('acme', 'data', 0)).toEqual([]);
    expect(es.requests).toHaveLength(1);
    expect(await index.suggest('acme', 'data', 1)).toEqual(['Database guide']);
    const [sent] = es.requests;
    expect(sent?.querystring).toEqual({ routing: 'acme' });
    expect(sent?.body).toMatchObject({
      size: 5,
      collapse: { field: 'title.raw' },
      query: {
        bool: {
          filter: [{ term: { tenant_id: 'acme' } }, { term: { deleted: false } }],
          must: [
            {
              multi_match: {
                query: 'data',
                type: 'bool_prefix',
                operator: 'and',
                fields: ['title_suggest', 'title_suggest._2gram', 'title_suggest._3gram'],
              },
            },
          ],
        },
      },
    });
  });

  it('sends nothing for a caller that has gone: the signal reaches first pages, later pages and suggestions', async () => {
    const es = mockedElasticsearch();
    answerSearches(es, () => emptySearchResponse);
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    const gone = { signal: AbortSignal.abort() };
    const newest = request({ text: '', sort: 'UPDATED_DESC' });
    const after = { ...newest, after: ['2024-05-01T00:00:00.000Z', 'a'] };
    await expect(index.search(newest, gone)).rejects.toThrow(/aborted/);
    await expect(index.search(after, gone)).rejects.toThrow(/aborted/);
    await expect(index.search({ ...after, session: 'pit-1' }, gone)).rejects.toThrow(/aborted/);
    await expect(index.suggest('acme', 'data', 5, gone)).rejects.toThrow(/aborted/);
    expect(es.requests).toEqual([]);
  });

  it('writes newer versions to the write index with external versioning and removes older copies after a rollover', async () => {
    const es = mockedElasticsearch();
    es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => rolledOverAliases);
    es.on('POST', '/_mget', () => ({
      docs: [
        // "a" still lives in the old backing index at version 1.
        {
          _index: 'quarry-documents-g1-000001',
          _id: 'acme/a',
          found: true,
          _version: 1,
          _seq_no: 5,
          _primary_term: 1,
        },
        { _index: 'quarry-documents-g1-000002', _id: 'acme/a', found: false },
        // "b" is already at version 5 in the write index, newer than the change.
        { _index: 'quarry-documents-g1-000001', _id: 'acme/b', found: false },
        {
          _index: 'quarry-documents-g1-000002',
          _id: 'acme/b',
          found: true,
          _version: 5,
          _seq_no: 9,
          _primary_term: 1,
        },
        { _index: 'quarry-documents-g1-000001', _id: 'acme/c', found: false },
        { _index: 'quarry-documents-g1-000002', _id: 'acme/c', found: false },
      ],
    }));
    es.on('POST', '/_bulk', () => ({ errors: false, items: [] }));
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.apply([
      upsert('acme', 'a', 1),
      upsert('acme', 'a', 2, 'New title'),
      upsert('acme', 'b', 3),
      remove('acme', 'c', 2),
    ]);

    const mget = es.requests.find((sent) => sent.path === '/_mget');
    expect(mget?.body.docs).toEqual(
      ['a', 'b', 'c'].flatMap((id) =>
        ['quarry-documents-g1-000001', 'quarry-documents-g1-000002'].map((backing) => ({
          _index: backing,
          _id: `acme/${id}`,
          routing: 'acme',
          _source: false,
        })),
      ),
    );
    const bulk = es.requests.find((sent) => sent.path === '/_bulk');
    expect(bulk?.body).toEqual([
      {
        index: {
          _index: 'quarry-documents-g1-000002',
          _id: 'acme/a',
          routing: 'acme',
          version: 2,
          version_type: 'external',
        },
      },
      expect.objectContaining({ tenant_id: 'acme', doc_id: 'a', deleted: false, title: 'New title' }),
      {
        delete: {
          _index: 'quarry-documents-g1-000001',
          _id: 'acme/a',
          routing: 'acme',
          if_seq_no: 5,
          if_primary_term: 1,
        },
      },
      {
        index: {
          _index: 'quarry-documents-g1-000002',
          _id: 'acme/c',
          routing: 'acme',
          version: 2,
          version_type: 'external',
        },
      },
      // The delete's commit time, which pruning compares with TOMBSTONE_RETENTION.
      {
        tenant_id: 'acme',
        doc_id: 'c',
        deleted: true,
        indexed_at: expect.any(String),
        deleted_at: '2024-05-01T00:00:00.000Z',
      },
    ]);
  });

  it('waits for the refresh on every write, so a change is searchable once apply resolves', async () => {
    const es = mockedElasticsearch();
    es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => rolledOverAliases);
    es.on('POST', '/_mget', (sent) => ({
      docs: sent.body.docs.map((doc: { _index: string; _id: string }) => ({ ...doc, found: false })),
    }));
    es.on('POST', '/_bulk', () => ({ errors: false, items: [] }));
    es.on('PUT', '/:index/_doc/*', () => ({ result: 'created' }));
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.apply([upsert('acme', 'a', 1), upsert('acme', 'b', 1)]);
    await index.apply([upsert('acme', 'c', 1)]);
    const writes = es.requests.filter((sent) => sent.path === '/_bulk' || sent.method === 'PUT');
    expect(writes.map((sent) => sent.querystring.refresh)).toEqual(['wait_for', 'wait_for']);
  });

  it('uses a single index call for one change, and treats a version conflict as already applied', async () => {
    const es = mockedElasticsearch();
    es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => ({
      'quarry-documents-g1-000001': {
        aliases: { 'quarry-documents': {}, 'quarry-documents-write': { is_write_index: true } },
      },
    }));
    es.on('POST', '/_mget', () => ({
      docs: [{ _index: 'quarry-documents-g1-000001', _id: 'acme/a', found: false }],
    }));
    es.on('PUT', '/quarry-documents-g1-000001/_doc/*', () =>
      es.error(409, 'version_conflict_engine_exception'),
    );
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await expect(index.apply([upsert('acme', 'a', 4)])).resolves.toEqual({ rejected: [] });
    const put = es.requests.find((sent) => sent.method === 'PUT');
    // The client sends the id URL-encoded (acme%2Fa); the mock hands it over decoded.
    expect(put?.path).toBe(`/quarry-documents-g1-000001/_doc/${indexedId('acme', 'a')}`);
    expect(put?.querystring).toEqual({
      routing: 'acme',
      version: '4',
      version_type: 'external',
      refresh: 'wait_for',
    });
    expect(es.requests.some((sent) => sent.path === '/_bulk')).toBe(false);
  });

  it('reports each refused bulk item as its own change: a 429 to try again, a mapping error for good', async () => {
    const es = mockedElasticsearch();
    es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => rolledOverAliases);
    es.on('POST', '/_mget', (sent) => ({
      docs: sent.body.docs.map((doc: { _index: string; _id: string }) => ({ ...doc, found: false })),
    }));
    let items: object[] = [
      { index: { status: 409, error: { type: 'version_conflict_engine_exception', reason: 'newer' } } },
      { index: { status: 201 } },
    ];
    es.on('POST', '/_bulk', () => ({ errors: true, items }));
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    // A version conflict is a newer version already there: applied, as idempotency wants.
    await expect(index.apply([upsert('t', 'a', 1), upsert('t', 'b', 1)])).resolves.toEqual({ rejected: [] });
    items = [
      { index: { status: 201 } },
      { index: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } } },
      { index: { status: 400, error: { type: 'mapper_parsing_exception', reason: 'bad field' } } },
    ];
    const [a, b, c] = [upsert('t', 'a', 1), upsert('t', 'b', 1), upsert('t', 'c', 1)];
    await expect(index.apply([a, b, c])).resolves.toEqual({
      rejected: [
        { change: b, error: '429 es_rejected_execution_exception: queue full', permanent: false },
        { change: c, error: '400 mapper_parsing_exception: bad field', permanent: true },
      ],
    });
  });

  it('reports a single refused write as its change, and fails the call when the cluster is the problem', async () => {
    const es = mockedElasticsearch();
    es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => rolledOverAliases);
    es.on('POST', '/_mget', (sent) => ({
      docs: sent.body.docs.map((doc: { _index: string; _id: string }) => ({ ...doc, found: false })),
    }));
    let status = 400;
    es.on('PUT', '/:index/_doc/*', () =>
      es.error(status, status === 400 ? 'mapper_parsing_exception' : 'unavailable_shards_exception'),
    );
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    const change = upsert('t', 'a', 1);
    await expect(index.apply([change])).resolves.toEqual({
      rejected: [{ change, error: expect.stringMatching(/mapper_parsing_exception/), permanent: true }],
    });
    status = 503;
    await expect(index.apply([change])).rejects.toThrow(/unavailable_shards_exception/);
  });

  it('does nothing for an empty batch', async () => {
    const es = mockedElasticsearch();
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.apply([]);
    expect(es.requests).toEqual([]);
  });

  it('erases a tenant: its synonyms, then one routed delete-by-query over every backing index, tombstones included', async () => {
    const es = mockedElasticsearch();
    es.on('DELETE', '/quarry-documents.synonyms/_doc/:id', () => es.error(404, 'not_found'));
    es.on('POST', '/:index/_delete_by_query', () => ({ deleted: 3, failures: [] }));
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.eraseTenant('acme');
    expect(es.requests).toHaveLength(2);
    const [synonyms, sent] = es.requests;
    // A tenant that never set synonyms has no document: that 404 is no failure.
    expect(synonyms).toMatchObject({
      method: 'DELETE',
      path: '/quarry-documents.synonyms/_doc/acme',
      querystring: { refresh: 'true' },
    });
    expect(sent?.path).toBe('/quarry-documents/_delete_by_query');
    expect(sent?.querystring).toMatchObject({
      routing: 'acme',
      conflicts: 'proceed',
      refresh: 'true',
      wait_for_completion: 'true',
    });
    // No `deleted: false` filter: the tombstones go too.
    expect(sent?.body).toEqual({ query: { term: { tenant_id: 'acme' } } });
  });
});

describe('ElasticsearchSearchIndex synonyms (elasticsearch-mock)', () => {
  const fields = ['title^4', 'tags.text^2', 'body'];
  const stored = {
    equivalents: [{ words: ['k8s', 'kubernetes'] }],
    rules: [{ word: 'laptop', synonyms: ['notebook', 'ultrabook'] }],
  };

  it("reads only the query words' entries of the tenant's synonyms, then adds them as a lower-weighted clause", async () => {
    const es = mockedElasticsearch();
    es.on('GET', '/quarry-documents.synonyms/_doc/:id', () => ({
      _index: 'quarry-documents.synonyms',
      _id: 'acme',
      found: true,
      _source: { lookup: { laptop: ['notebook', 'ultrabook'] } },
    }));
    answerSearches(es, () => emptySearchResponse);
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.search(request({ text: 'Laptops +dock "laptop bag" lapto* -laptop', typoTolerance: false }));
    const [lookup] = es.requests;
    const [sent] = searchesOf(es);
    // Plain words only, as the index stems them: phrases, prefixes, + and - clauses match as typed.
    expect(lookup).toMatchObject({
      method: 'GET',
      path: '/quarry-documents.synonyms/_doc/acme',
      querystring: { _source_includes: 'lookup.laptop' },
    });
    expect(sent?.body.query.bool.must[0].bool.should).toEqual([
      { multi_match: { query: 'laptops', type: 'cross_fields', fields, minimum_should_match: '1' } },
      { multi_match: { query: 'notebook ultrabook', type: 'cross_fields', fields, boost: 0.5 } },
      { multi_match: { query: 'lapto', type: 'phrase_prefix', fields } },
    ]);
  });

  it('searches without synonyms when the tenant has none, or no synonyms index exists yet', async () => {
    const es = mockedElasticsearch();
    es.on('GET', '/quarry-documents.synonyms/_doc/:id', () => es.error(404, 'index_not_found_exception'));
    answerSearches(es, () => emptySearchResponse);
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.search(request({ text: 'laptop', typoTolerance: false }));
    expect(searchesOf(es)[0]?.body.query.bool.must[0].bool.should).toEqual([
      { multi_match: { query: 'laptop', type: 'cross_fields', fields, minimum_should_match: '1' } },
    ]);
    expect(await index.synonyms('acme')).toEqual({ equivalents: [], rules: [] });
  });

  it('reads nothing for a query without plain words', async () => {
    const es = mockedElasticsearch();
    es.on('GET', '/quarry-documents.synonyms/_doc/:id', () => ({ found: false }));
    answerSearches(es, () => emptySearchResponse);
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.search(request({ text: '' }));
    await index.search(request({ text: '"laptop bag" +dock' }));
    expect(es.requests.filter((sent) => sent.path.startsWith('/quarry-documents.synonyms'))).toEqual([]);
    expect(searchesOf(es)).toHaveLength(2);
  });

  it("stores a tenant's synonyms as one document of a stored-only index, with the lookup a search reads", async () => {
    const es = mockedElasticsearch();
    let created = 0;
    es.on('PUT', '/quarry-documents.synonyms', () =>
      created++ === 0 ? { acknowledged: true } : es.error(400, 'resource_already_exists_exception'),
    );
    es.on('PUT', '/quarry-documents.synonyms/_doc/*', () => ({ result: 'created' }));
    es.on('GET', '/quarry-documents.synonyms/_doc/*', () => ({ found: true, _source: stored }));
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await index.replaceSynonyms('a/b', stored);
    await index.replaceSynonyms('a/b', stored);
    const [create, write, , again] = es.requests;
    expect(create?.body).toEqual({
      settings: { number_of_shards: 1, auto_expand_replicas: '0-1' },
      mappings: {
        dynamic: 'strict',
        properties: {
          tenant_id: { type: 'keyword' },
          equivalents: { type: 'object', enabled: false },
          rules: { type: 'object', enabled: false },
          lookup: { type: 'object', enabled: false },
        },
      },
    });
    // The tenant id is the document id (the client escapes it in the URL; the mock shows it unescaped).
    expect(write?.path).toBe('/quarry-documents.synonyms/_doc/a/b');
    expect(write?.body).toEqual({
      tenant_id: 'a/b',
      ...stored,
      lookup: { k8: ['kubernetes'], kubernet: ['k8s'], laptop: ['notebook', 'ultrabook'] },
    });
    // The index already there is no failure: the second write goes through.
    expect(again?.path).toBe('/quarry-documents.synonyms/_doc/a/b');
    expect(await index.synonyms('a/b')).toEqual(stored);
    expect(es.requests.at(-1)?.querystring).toEqual({ _source_includes: 'equivalents,rules' });
  });
});

describe('ensureElasticsearchLayout (elasticsearch-mock)', () => {
  const settings = {
    shards: 1,
    replicas: 0,
    rolloverMaxPrimaryShardSize: '50gb',
    rolloverMaxAge: '30d',
    warmAfter: '7d',
    coldAfter: '90d',
  };

  it('creates the ILM policy, the template with explicit mappings, and the first index behind both aliases', async () => {
    const es = mockedElasticsearch();
    es.on('PUT', '/_ilm/policy/:name', () => ({ acknowledged: true }));
    es.on('PUT', '/_index_template/:name', () => ({ acknowledged: true }));
    es.on('HEAD', '/_alias/:name', () => es.error(404, 'aliases_not_found_exception'));
    es.on('PUT', '/:index', () => ({ acknowledged: true }));
    await ensureElasticsearchLayout(es.client, names, settings);

    const [policy, template, , created] = es.requests;
    expect(policy?.path).toBe('/_ilm/policy/quarry-documents-policy');
    expect(policy?.body.policy.phases.hot.actions.rollover).toEqual({
      max_primary_shard_size: '50gb',
      max_age: '30d',
    });
    // Hot, warm and cold, and nothing that blocks writes: older indices still take deletes of superseded copies.
    const { phases } = policy?.body.policy ?? {};
    expect(Object.keys(phases)).toEqual(['hot', 'warm', 'cold']);
    expect(phases.warm.min_age).toBe('7d');
    expect(phases.cold.min_age).toBe('90d');
    for (const phase of Object.values(phases) as { actions: Record<string, unknown> }[])
      for (const blocking of ['shrink', 'forcemerge', 'readonly', 'searchable_snapshot', 'delete'])
        expect(phase.actions[blocking]).toBeUndefined();
    expect(template?.path).toBe('/_index_template/quarry-documents-template');
    expect(template?.body.index_patterns).toEqual(['quarry-documents-*']);
    expect(template?.body.template.settings).toMatchObject({
      'index.lifecycle.name': 'quarry-documents-policy',
      'index.lifecycle.rollover_alias': 'quarry-documents-write',
    });
    expect(template?.body.template.aliases).toEqual({ 'quarry-documents': {} });
    const mappings = template?.body.template.mappings;
    expect(mappings._routing).toEqual({ required: true });
    expect(mappings.dynamic).toBe('strict');
    expect(mappings.properties).toMatchObject({
      tenant_id: { type: 'keyword' },
      title: { type: 'text', analyzer: 'english', fields: { raw: { type: 'keyword' } } },
      title_suggest: { type: 'search_as_you_type' },
      body: { type: 'text', analyzer: 'english' },
      tags: { type: 'keyword' },
      status: { type: 'keyword' },
      author: { type: 'keyword' },
      updated_at: { type: 'date' },
    });
    expect(created?.path).toBe('/quarry-documents-g0-000001');
    expect(created?.body).toEqual({ aliases: { 'quarry-documents-write': { is_write_index: true } } });
  });

  it('lets replicas starting together on a fresh cluster create the same first index, once', async () => {
    const es = mockedElasticsearch();
    es.on('PUT', '/_ilm/policy/:name', () => ({ acknowledged: true }));
    es.on('PUT', '/_index_template/:name', () => ({ acknowledged: true }));
    es.on('HEAD', '/_alias/:name', () => es.error(404, 'aliases_not_found_exception'));
    let created = 0;
    es.on('PUT', '/:index', () =>
      created++ === 0 ? { acknowledged: true } : es.error(400, 'resource_already_exists_exception'),
    );
    await Promise.all([1, 2, 3].map(() => ensureElasticsearchLayout(es.client, names, settings)));
    const creates = es.requests.filter((sent) => sent.method === 'PUT' && !sent.path.startsWith('/_'));
    expect(new Set(creates.map((sent) => sent.path))).toEqual(new Set(['/quarry-documents-g0-000001']));
  });

  it('leaves an existing write alias alone, and gives its indices the fields added since they were made', async () => {
    const es = mockedElasticsearch();
    es.on('PUT', '/_ilm/policy/:name', () => ({ acknowledged: true }));
    es.on('PUT', '/_index_template/:name', () => ({ acknowledged: true }));
    es.on('HEAD', '/_alias/:name', () => ({}));
    es.on('PUT', '/:index/_mapping', () => ({ acknowledged: true }));
    await ensureElasticsearchLayout(es.client, names, settings);
    expect(es.requests.map((sent) => sent.method)).toEqual(['PUT', 'PUT', 'HEAD', 'PUT']);
    const mapping = es.requests[3];
    expect(mapping?.path).toBe('/quarry-documents/_mapping');
    expect(mapping?.body.properties.deleted_at).toEqual({ type: 'date' });
  });
});

// Wherever ELASTICSEARCH_URL points at a real server (CI does), the whole SearchIndex contract runs against it.
// Without it the suite is reported as skipped, with the reason, rather than left out.
const elasticsearchUrl = process.env.ELASTICSEARCH_URL;
describe.skipIf(!elasticsearchUrl)(
  `on a real Elasticsearch server${elasticsearchUrl ? '' : ' (skipped: ELASTICSEARCH_URL is unset)'}`,
  () => {
    const openReal = async () => {
      const config = configLoader(backendsConcern)({
        ELASTICSEARCH_URL: elasticsearchUrl,
        ELASTICSEARCH_REPLICAS: '0',
        ELASTICSEARCH_INDEX_PREFIX: `quarry-contract-${randomUUID().slice(0, 8)}`,
      });
      if (!config.elasticsearch) throw new Error('ELASTICSEARCH_URL did not configure Elasticsearch');
      const client = createElasticsearchClient(config.elasticsearch);
      const realNames = elasticsearchNames(config.elasticsearch.indexPrefix);
      await ensureElasticsearchLayout(client, realNames, config.elasticsearch);
      const index = new ElasticsearchSearchIndex({ client, names: realNames });
      return {
        client,
        names: realNames,
        index,
        async cleanup() {
          await client.indices.delete({
            index: [realNames.indexPattern, realNames.synonymsIndex],
            ignore_unavailable: true,
          });
          await client.indices.deleteIndexTemplate({ name: realNames.template });
          await client.ilm.deleteLifecycle({ name: realNames.policy });
          await client.close();
        },
      };
    };

    describeSearchIndexContract('Elasticsearch server', openReal);

    describe('ElasticsearchSearchIndex on a real server', () => {
      it('keeps one copy per document across a rollover, and ignores replays into the new index', async () => {
        const real = await openReal();
        try {
          await real.index.apply([upsert('acme', 'a', 1, 'Original title')]);
          await real.client.indices.rollover({ alias: real.names.writeAlias });
          await real.index.apply([upsert('acme', 'a', 2, 'Updated title')]);
          await real.index.apply([upsert('acme', 'a', 1, 'Original title')]);
          await real.client.indices.refresh({ index: real.names.readAlias });
          const page = await real.index.search(request({ text: 'title', first: 10 }));
          expect(page.total).toBe(1);
          expect((await real.index.search(request({ text: 'updated' }))).total).toBe(1);
          expect((await real.index.search(request({ text: 'original' }))).total).toBe(0);
        } finally {
          await real.cleanup();
        }
      });
    });
  },
);

/** Copies of each document per backing index, as versions, in a cluster mock that enforces versions. */
const versionsIn = (cluster: ReturnType<typeof elasticsearchCluster>) =>
  Object.fromEntries(
    [...cluster.indices].flatMap(([index, documents]) =>
      [...documents].map(([id, copy]) => [`${index} ${id}`, copy.version]),
    ),
  );

describe('ElasticsearchSearchIndex on a cluster mock that enforces versions and sequence numbers', () => {
  const first = 'quarry-documents-g1-000001';
  const second = 'quarry-documents-g1-000002';

  it('finishes a move that a retried batch left half done: the write landed, the delete of the old copy did not', async () => {
    const cluster = elasticsearchCluster({ indices: [first] });
    const index = new ElasticsearchSearchIndex({ client: cluster.client, names });
    await index.apply([upsert('acme', 'a', 1)]);
    cluster.rollover(second);
    cluster.state.rejectBulkItem = (item) =>
      item.action === 'delete' ? { status: 429, type: 'es_rejected_execution_exception' } : undefined;
    const change = upsert('acme', 'a', 2, 'New title');
    expect((await index.apply([change])).rejected).toEqual([
      { change, error: expect.stringMatching(/es_rejected_execution_exception/), permanent: false },
    ]);
    // The rest of the bulk was applied: the new version is in the write index.
    expect(versionsIn(cluster)).toEqual({ [`${first} acme/a`]: 1, [`${second} acme/a`]: 2 });
    // The outbox keeps the change and the indexer applies it again: its version is there now.
    cluster.state.rejectBulkItem = undefined;
    await index.apply([upsert('acme', 'a', 2, 'New title')]);
    expect(versionsIn(cluster)).toEqual({ [`${second} acme/a`]: 2 });
  });

  it('writes to the write index it read, so a rollover in between leaves no second copy', async () => {
    const cluster = elasticsearchCluster({ indices: [first] });
    const index = new ElasticsearchSearchIndex({ client: cluster.client, names });
    await index.apply([upsert('acme', 'a', 1)]);
    // ILM rolls over on its own schedule, here between the adapter's read and its write.
    cluster.state.afterRead = () => {
      cluster.state.afterRead = undefined;
      cluster.rollover(second);
    };
    await index.apply([upsert('acme', 'a', 2, 'New title')]);
    expect(versionsIn(cluster)).toEqual({ [`${first} acme/a`]: 2 });
  });

  it('ignores replays and reordered changes: versions never go back, deletes included', async () => {
    const cluster = elasticsearchCluster({ indices: [first] });
    const index = new ElasticsearchSearchIndex({ client: cluster.client, names });
    await index.apply([upsert('acme', 'a', 3, 'Third'), upsert('acme', 'b', 1)]);
    await index.apply([upsert('acme', 'a', 2, 'Second'), upsert('acme', 'b', 1)]);
    await index.apply([remove('acme', 'b', 2)]);
    await index.apply([upsert('acme', 'b', 1)]);
    const stored = cluster.indices.get(first);
    expect(stored?.get('acme/a')).toMatchObject({ version: 3, source: { title: 'Third' } });
    expect(stored?.get('acme/b')).toMatchObject({ version: 2, source: { deleted: true } });
  });

  it('leaves a copy alone when another writer changed it after the read: the guarded delete conflicts', async () => {
    const cluster = elasticsearchCluster({ indices: [first] });
    const index = new ElasticsearchSearchIndex({ client: cluster.client, names });
    await index.apply([upsert('acme', 'a', 1)]);
    cluster.rollover(second);
    // A reindex rewrites the old copy between this batch's read and its bulk.
    cluster.state.afterRead = () => {
      cluster.state.afterRead = undefined;
      const copy = cluster.indices.get(first)?.get('acme/a');
      if (copy) copy.seqNo += 1;
    };
    await index.apply([upsert('acme', 'a', 2, 'New title'), upsert('acme', 'c', 1)]);
    expect(versionsIn(cluster)).toEqual({
      [`${first} acme/a`]: 1,
      [`${second} acme/a`]: 2,
      [`${second} acme/c`]: 1,
    });
  });
});

describe('the cluster mock itself', () => {
  it('answers 409 to an external version that is not newer, and to a stale if_seq_no; counts sequence numbers', async () => {
    const cluster = elasticsearchCluster();
    const target = 'quarry-documents-g1-000001';
    const put = (version: number, extra: Record<string, unknown> = {}) =>
      cluster.client.index({
        index: target,
        id: 'x',
        routing: 't',
        version,
        version_type: 'external',
        document: { v: version },
        ...extra,
      });
    expect((await put(2))._seq_no).toBe(0);
    await expect(put(2)).rejects.toMatchObject({ meta: { statusCode: 409 } });
    await expect(put(1)).rejects.toMatchObject({ meta: { statusCode: 409 } });
    expect((await put(3))._seq_no).toBe(1);
    await expect(put(4, { if_seq_no: 0, if_primary_term: 1 })).rejects.toMatchObject({
      meta: { statusCode: 409 },
    });
    const bulk = await cluster.client.bulk({
      operations: [
        { delete: { _index: target, _id: 'x', routing: 't', if_seq_no: 0, if_primary_term: 1 } },
        { delete: { _index: target, _id: 'x', routing: 't', if_seq_no: 1, if_primary_term: 1 } },
      ],
    });
    expect(bulk.items.map((item) => item.delete?.status)).toEqual([409, 200]);
    expect(cluster.indices.get(target)?.size).toBe(0);
  });
});

describe('ElasticsearchSearchIndex pages inside a point in time (cluster mock)', () => {
  const newest = request({ text: '', sort: 'UPDATED_DESC', first: 2 });
  const seeded = async () => {
    const cluster = elasticsearchCluster();
    const index = new ElasticsearchSearchIndex({
      client: cluster.client,
      names,
      pointInTimeKeepAliveSeconds: 120,
    });
    await index.apply(['a', 'b', 'c', 'd', 'e'].map((id) => upsert('acme', id, 1)));
    return { cluster, index };
  };

  it('reads every page from the view of the first: writes in between neither repeat nor skip hits', async () => {
    const { cluster, index } = await seeded();
    const first = await index.search(newest);
    expect(first.session).toBeDefined();
    const pit = cluster.es.requests.find((sent) => sent.path.endsWith('/_pit'));
    expect(pit?.querystring).toEqual({ routing: 'acme', keep_alive: '120s' });
    // Between pages: a new document that sorts first, one not yet seen deleted, another updated.
    await index.apply([upsert('acme', 'z', 1), remove('acme', 'b', 2), upsert('acme', 'a', 2, 'Changed')]);
    const pages = [first];
    for (let page = pages.at(-1); page?.hasNextPage; page = pages.at(-1)) {
      const last = page.hits.at(-1);
      pages.push(await index.search({ ...newest, after: last?.sortKey, session: page.session }));
    }
    expect(pages.flatMap((page) => page.hits.map((hit) => hit.documentId))).toEqual([
      'e',
      'd',
      'c',
      'b',
      'a',
    ]);
    // A search in a point in time names neither indices nor routing, and keeps it alive for another period.
    const inPit = cluster.es.requests.filter((sent) => sent.path === '/_search');
    expect(inPit).toHaveLength(3);
    for (const sent of inPit) {
      expect(sent.querystring).toEqual({});
      expect(sent.body.pit).toEqual({ id: first.session, keep_alive: '120s' });
    }
    // A new search sees the writes.
    const fresh = await index.search({ ...newest, first: 10 });
    expect(fresh.hits.map((hit) => hit.documentId)).toEqual(['z', 'e', 'd', 'c', 'a']);
  });

  it('closes the point in time of a first page with no next page, and keeps the others open', async () => {
    const { cluster, index } = await seeded();
    const all = await index.search({ ...newest, first: 10 });
    expect(all.hasNextPage).toBe(false);
    expect(all.session).toBeUndefined();
    await expect.poll(() => cluster.openPointsInTime()).toEqual([]);
    const exact = await index.search({ ...newest, first: 5 });
    expect(exact.hasNextPage).toBe(false);
    await expect.poll(() => cluster.openPointsInTime()).toEqual([]);
    const paged = await index.search(newest);
    expect(cluster.openPointsInTime()).toEqual([paged.session]);
  });

  it('reads an expired point in time from the cause itself as well as from a root cause', async () => {
    const es = mockedElasticsearch();
    answerSearches(es, () => es.error(404, 'search_context_missing_exception'));
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    await expect(
      index.search({ ...newest, after: ['2024-05-01T00:00:00.000Z', 'a'], session: 'pit-1' }),
    ).rejects.toBeInstanceOf(PagingSessionExpiredError);
  });

  it('passes on any other failure of a page as the cluster failing, not as a session to start again', async () => {
    const es = mockedElasticsearch();
    const failures = [
      es.error(404, 'index_not_found_exception'),
      es.error(503, 'search_phase_execution_exception', 'no_shard_available_action_exception'),
      es.error(429, 'es_rejected_execution_exception'),
    ];
    let failure = failures[0];
    answerSearches(es, () => failure as object);
    const index = new ElasticsearchSearchIndex({ client: es.client, names });
    for (failure of failures) {
      const page = index.search({ ...newest, after: ['2024-05-01T00:00:00.000Z', 'a'], session: 'pit-1' });
      await expect(page).rejects.not.toBeInstanceOf(PagingSessionExpiredError);
      await expect(page).rejects.toMatchObject({ meta: { statusCode: failure?.meta.statusCode } });
    }
  });

  it('answers PagingSessionExpiredError once the point in time has expired', async () => {
    const { cluster, index } = await seeded();
    const first = await index.search(newest);
    cluster.expire(first.session ?? '');
    await expect(
      index.search({ ...newest, after: first.hits.at(-1)?.sortKey, session: first.session }),
    ).rejects.toBeInstanceOf(PagingSessionExpiredError);
  });

  it('tells the client to start again with BAD_USER_INPUT on `after`, from a cursor that carries the point in time', async () => {
    const { cluster, index } = await seeded();
    const resolvers = createSearchResolvers(
      index,
      createCursorCodec('x'.repeat(32)),
      { maxFirst: 100 },
      index,
    );
    const search = (resolvers.Query as Record<string, (...args: unknown[]) => Promise<unknown>>).search;
    const context = { principal: { tenantId: 'acme' } } as SearchContext;
    const info = { fieldNodes: [], fragments: {} };
    const args = { query: '', sort: 'UPDATED_DESC', first: 2 };
    const first = (await search?.({}, args, context, info)) as { pageInfo: { endCursor: string } };
    const second = (await search?.({}, { ...args, after: first.pageInfo.endCursor }, context, info)) as {
      pageInfo: { endCursor: string };
    };
    for (const id of cluster.openPointsInTime()) cluster.expire(id);
    await expect(
      search?.({}, { ...args, after: second.pageInfo.endCursor }, context, info),
    ).rejects.toMatchObject({
      message: 'after: the paging session of this cursor has expired; search again from the first page',
      extensions: { code: 'BAD_USER_INPUT', field: 'after' },
    });
  });
});

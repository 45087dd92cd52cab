import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DocumentChange, DocumentRecord } from '../../server/documents/model.ts';
import { highlightWindowChars } from '../../subgraphs/search/highlighting.ts';
import { maxQueryTerms, TooManyQueryTermsError } from '../../subgraphs/search/query-parser.ts';
import {
  facetBucketLimit,
  type SearchIndex,
  type SearchPage,
  type SearchRequest,
  type SearchSort,
} from '../../subgraphs/search/search-index.ts';
import type { SynonymStore } from '../../subgraphs/search/synonyms.ts';

type DocumentFields = Partial<Omit<DocumentRecord, 'id' | 'tenantId' | 'version'>>;

const baseTime = Date.parse('2024-03-01T12:00:00.000Z');
const minutes = (n: number) => new Date(baseTime + n * 60_000);

let sequence = 0;

function upsert(tenantId: string, id: string, version: number, fields: DocumentFields = {}): DocumentChange {
  const document: DocumentRecord = {
    id,
    tenantId,
    version,
    title: 'Untitled',
    body: '',
    tags: [],
    author: null,
    status: 'PUBLISHED',
    createdAt: minutes(0),
    updatedAt: minutes(version),
    ...fields,
  };
  sequence += 1;
  return {
    sequence: String(sequence),
    tenantId,
    documentId: id,
    version,
    operation: 'upsert',
    document,
    committedAt: document.updatedAt,
  };
}

function remove(tenantId: string, id: string, version: number): DocumentChange {
  sequence += 1;
  return {
    sequence: String(sequence),
    tenantId,
    documentId: id,
    version,
    operation: 'delete',
    document: null,
    committedAt: minutes(version),
  };
}

const ids = (page: SearchPage) => page.hits.map((hit) => hit.documentId);
const sortedIds = (page: SearchPage) => ids(page).sort();
const facet = (page: SearchPage, field: string) =>
  page.facets.find((entry) => entry.field === field)?.buckets;

/**
 * What every SearchIndex backend must do. Data goes in only through
 * `apply`, the way the indexer feeds it, so the suite never depends on a
 * backend's storage.
 */
export function describeSearchIndexContract(
  backendName: string,
  createIndex: () => Promise<{ index: SearchIndex & SynonymStore; cleanup(): Promise<void> }>,
) {
  describe(`SearchIndex contract: ${backendName}`, () => {
    let index: SearchIndex & SynonymStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ index, cleanup } = await createIndex());
    });

    afterEach(async () => {
      await cleanup();
    });

    const search = (tenantId: string, text: string, request: Partial<SearchRequest> = {}) =>
      index.search({ tenantId, text, filter: {}, sort: 'RELEVANCE', first: 50, facets: [], ...request });

    describe('tenant isolation', () => {
      beforeEach(async () => {
        await index.apply([
          upsert('tenant-a', 'a1', 1, { title: 'Quarterly report', tags: ['finance'], author: 'alice' }),
          upsert('tenant-a', 'a2', 1, { title: 'Quarterly review', tags: ['finance'], status: 'DRAFT' }),
          upsert('tenant-b', 'b1', 1, { title: 'Quarterly plan', tags: ['ops'], author: 'bob' }),
        ]);
      });

      it("never shows another tenant's documents in hits, total or facets", async () => {
        const page = await search('tenant-b', 'quarterly', { facets: ['TAGS', 'STATUS', 'AUTHOR'] });
        expect(ids(page)).toEqual(['b1']);
        expect(page.total).toBe(1);
        expect(facet(page, 'TAGS')).toEqual([{ value: 'ops', count: 1 }]);
        expect(facet(page, 'STATUS')).toEqual([{ value: 'PUBLISHED', count: 1 }]);
        expect(facet(page, 'AUTHOR')).toEqual([{ value: 'bob', count: 1 }]);
      });

      it('scopes the empty query to the tenant', async () => {
        const page = await search('tenant-b', '');
        expect(ids(page)).toEqual(['b1']);
        expect(page.total).toBe(1);
      });

      it('scopes suggestions to the tenant', async () => {
        expect(await index.suggest('tenant-b', 'quar', 10)).toEqual(['Quarterly plan']);
        expect((await index.suggest('tenant-a', 'quar', 10)).sort()).toEqual([
          'Quarterly report',
          'Quarterly review',
        ]);
      });

      it('returns an empty page with empty facets for a tenant without documents', async () => {
        const page = await search('tenant-c', '', { facets: ['TAGS', 'AUTHOR'] });
        expect(page).toEqual({
          total: 0,
          hits: [],
          hasNextPage: false,
          facets: [
            { field: 'TAGS', buckets: [] },
            { field: 'AUTHOR', buckets: [] },
          ],
        });
        expect(await index.suggest('tenant-c', 'quar', 10)).toEqual([]);
      });

      it('keeps the same document id apart per tenant', async () => {
        await index.apply([upsert('tenant-b', 'a1', 1, { title: 'Unrelated memo' })]);
        expect(ids(await search('tenant-a', 'report'))).toEqual(['a1']);
        expect(ids(await search('tenant-b', 'report'))).toEqual([]);
        expect(ids(await search('tenant-b', 'memo'))).toEqual(['a1']);
      });
    });

    describe('matching and relevance', () => {
      it('ranks a title match above a body-only match, with positive scores', async () => {
        await index.apply([
          // The body-only match is the shorter field, so only the title's weight puts the title match first.
          upsert('t', 'body-only', 1, { title: 'Cluster notes for the platform team', body: 'Kubernetes.' }),
          upsert('t', 'title', 1, { title: 'Plan for the kubernetes upgrade', body: 'We do it next week.' }),
          upsert('t', 'unrelated', 1, { title: 'Lunch menu', body: 'Soup and bread.' }),
        ]);
        const page = await search('t', 'kubernetes');
        expect(ids(page)).toEqual(['title', 'body-only']);
        const [first, second] = page.hits;
        expect(second?.score).toBeGreaterThan(0);
        expect(first?.score).toBeGreaterThan(second?.score ?? Number.POSITIVE_INFINITY);
      });

      it('finds a document that matches only some of the words', async () => {
        await index.apply([
          upsert('t', 'partial', 1, { title: 'Supersonic flow over a flat plate' }),
          upsert('t', 'none', 1, { title: 'Lunch menu' }),
        ]);
        const page = await search('t', 'flutter of a swept wing in supersonic flow');
        expect(ids(page)).toEqual(['partial']);
        expect(page.total).toBe(1);
      });

      it('ranks a document matching more of the words above one matching fewer', async () => {
        await index.apply([
          upsert('t', 'fewer', 1, { title: 'Notes', body: 'The wing was tested in a tunnel last spring.' }),
          upsert('t', 'more', 1, { title: 'Notes', body: 'The swept wing showed flutter in the tunnel.' }),
          upsert('t', 'other', 1, { title: 'Notes', body: 'Lunch was served in the hall.' }),
        ]);
        expect(ids(await search('t', 'swept wing flutter'))).toEqual(['more', 'fewer']);
      });

      it('ranks words found in the title above the same words found in the body', async () => {
        await index.apply([
          upsert('t', 'body', 1, {
            title: 'Notes from the lab',
            body: 'Heat conduction in composite slabs.',
          }),
          upsert('t', 'title', 1, {
            title: 'Heat conduction in composite slabs',
            body: 'Notes from the lab.',
          }),
        ]);
        expect(ids(await search('t', 'what is known about heat conduction in slabs'))).toEqual([
          'title',
          'body',
        ]);
      });

      it('does not make a candidate of a document sharing only stopwords with the query', async () => {
        await index.apply([
          upsert('t', 'stop', 1, { title: 'The end of it', body: 'So it was.' }),
          upsert('t', 'wing', 1, { title: 'Wing design' }),
        ]);
        expect(ids(await search('t', 'what is the wing of it'))).toEqual(['wing']);
        // A query of stopwords only still searches for them rather than for nothing.
        expect(ids(await search('t', 'the end of it'))).toContain('stop');
      });

      it('counts total and facets over the same candidates as the hits', async () => {
        await index.apply([
          upsert('t', 'a', 1, { title: 'Wing flutter', tags: ['aero'] }),
          upsert('t', 'b', 1, { title: 'Wing loads', tags: ['aero', 'loads'] }),
          upsert('t', 'c', 1, { title: 'Flutter margins', tags: ['loads'] }),
          upsert('t', 'd', 1, { title: 'Lunch menu', tags: ['food'] }),
        ]);
        const page = await search('t', 'wing flutter', { facets: ['TAGS'] });
        expect(sortedIds(page)).toEqual(['a', 'b', 'c']);
        expect(page.total).toBe(3);
        expect(facet(page, 'TAGS')).toEqual([
          { value: 'aero', count: 2 },
          { value: 'loads', count: 2 },
        ]);
      });

      it('matches other forms of a word', async () => {
        await index.apply([
          upsert('t', 'run', 1, { body: 'How to run the migration' }),
          upsert('t', 'running', 1, { body: 'Running migrations safely' }),
        ]);
        expect(sortedIds(await search('t', 'running'))).toEqual(['run', 'running']);
        expect(sortedIds(await search('t', 'runs'))).toEqual(['run', 'running']);
      });

      it('matches tags and ignores case', async () => {
        await index.apply([upsert('t', 'tagged', 1, { title: 'Plain', tags: ['Security'] })]);
        expect(ids(await search('t', 'SECURITY'))).toEqual(['tagged']);
      });

      it('matches every document of the tenant for empty text, with zero scores and no highlights', async () => {
        await index.apply([upsert('t', 'x', 1, { title: 'One' }), upsert('t', 'y', 2, { title: 'Two' })]);
        const page = await search('t', '');
        expect(page.total).toBe(2);
        expect(sortedIds(page)).toEqual(['x', 'y']);
        for (const hit of page.hits) {
          expect(hit.score).toBe(0);
          expect(hit.highlights).toEqual([]);
        }
      });

      it('treats query syntax in the text as plain words', async () => {
        await index.apply([upsert('t', 'doc', 1, { title: 'Alpha and beta', body: 'near or not' })]);
        for (const text of [
          '"alpha',
          'alpha) OR (',
          'NEAR(alpha beta)',
          'alpha AND',
          '* ^ : - +',
          'body:alpha',
        ]) {
          await expect(search('t', text)).resolves.toBeDefined();
        }
        // As operators these would exclude the document; as words they are all in it.
        expect(ids(await search('t', 'alpha NOT beta'))).toEqual(['doc']);
      });
    });

    describe('filters', () => {
      beforeEach(async () => {
        await index.apply([
          upsert('t', 'd1', 1, {
            title: 'Report one',
            tags: ['x', 'y'],
            status: 'PUBLISHED',
            author: 'alice',
            updatedAt: minutes(10),
          }),
          upsert('t', 'd2', 1, {
            title: 'Report two',
            tags: ['x'],
            status: 'DRAFT',
            author: 'bob',
            updatedAt: minutes(20),
          }),
          upsert('t', 'd3', 1, {
            title: 'Report three',
            tags: ['y'],
            status: 'ARCHIVED',
            author: null,
            updatedAt: minutes(30),
          }),
          upsert('t', 'd4', 1, {
            title: 'Other four',
            tags: ['x', 'y'],
            status: 'PUBLISHED',
            author: 'alice',
            updatedAt: minutes(40),
          }),
        ]);
      });

      it('requires every filtered tag', async () => {
        expect(sortedIds(await search('t', 'report', { filter: { tags: ['x'] } }))).toEqual(['d1', 'd2']);
        expect(sortedIds(await search('t', 'report', { filter: { tags: ['x', 'y'] } }))).toEqual(['d1']);
        expect(sortedIds(await search('t', '', { filter: { tags: ['x', 'y'] } }))).toEqual(['d1', 'd4']);
        expect(sortedIds(await search('t', '', { filter: { tags: ['x', 'missing'] } }))).toEqual([]);
      });

      it('accepts any of the filtered states', async () => {
        expect(sortedIds(await search('t', '', { filter: { status: ['DRAFT', 'ARCHIVED'] } }))).toEqual([
          'd2',
          'd3',
        ]);
        expect(sortedIds(await search('t', 'report', { filter: { status: ['PUBLISHED'] } }))).toEqual(['d1']);
      });

      it('matches the author exactly', async () => {
        expect(sortedIds(await search('t', '', { filter: { author: 'alice' } }))).toEqual(['d1', 'd4']);
        expect(sortedIds(await search('t', '', { filter: { author: 'ali' } }))).toEqual([]);
      });

      it('bounds the update time exclusively', async () => {
        expect(sortedIds(await search('t', '', { filter: { updatedAfter: minutes(20) } }))).toEqual([
          'd3',
          'd4',
        ]);
        expect(sortedIds(await search('t', '', { filter: { updatedBefore: minutes(20) } }))).toEqual(['d1']);
        const window = { updatedAfter: minutes(10), updatedBefore: minutes(40) };
        expect(sortedIds(await search('t', 'report', { filter: window }))).toEqual(['d2', 'd3']);
      });

      it('combines filters and applies them to total and facets too', async () => {
        const page = await search('t', 'report', {
          filter: { tags: ['y'], status: ['PUBLISHED', 'ARCHIVED'] },
          facets: ['TAGS', 'STATUS', 'AUTHOR'],
        });
        expect(sortedIds(page)).toEqual(['d1', 'd3']);
        expect(page.total).toBe(2);
        expect(facet(page, 'TAGS')).toEqual([
          { value: 'y', count: 2 },
          { value: 'x', count: 1 },
        ]);
        expect(facet(page, 'STATUS')).toEqual([
          { value: 'ARCHIVED', count: 1 },
          { value: 'PUBLISHED', count: 1 },
        ]);
        expect(facet(page, 'AUTHOR')).toEqual([{ value: 'alice', count: 1 }]);
      });
    });

    describe('facets', () => {
      beforeEach(async () => {
        await index.apply([
          upsert('t', 'f1', 1, { tags: ['api', 'docs'], author: 'carol', status: 'PUBLISHED' }),
          upsert('t', 'f2', 1, { tags: ['api'], author: 'carol', status: 'PUBLISHED' }),
          upsert('t', 'f3', 1, { tags: ['api', 'infra'], author: 'dave', status: 'DRAFT' }),
          upsert('t', 'f4', 1, { tags: ['docs', 'infra'], author: null, status: 'DRAFT' }),
          upsert('t', 'f5', 1, { tags: ['zeta'], author: 'erin', status: 'ARCHIVED' }),
        ]);
      });

      it('counts every match, not just the page, most frequent first then by value', async () => {
        const page = await search('t', '', { first: 1, facets: ['TAGS', 'STATUS', 'AUTHOR'] });
        expect(page.hits).toHaveLength(1);
        expect(page.facets).toEqual([
          {
            field: 'TAGS',
            buckets: [
              { value: 'api', count: 3 },
              { value: 'docs', count: 2 },
              { value: 'infra', count: 2 },
              { value: 'zeta', count: 1 },
            ],
          },
          {
            field: 'STATUS',
            buckets: [
              { value: 'DRAFT', count: 2 },
              { value: 'PUBLISHED', count: 2 },
              { value: 'ARCHIVED', count: 1 },
            ],
          },
          {
            field: 'AUTHOR',
            buckets: [
              { value: 'carol', count: 2 },
              { value: 'dave', count: 1 },
              { value: 'erin', count: 1 },
            ],
          },
        ]);
      });

      it('returns only the requested fields, in request order', async () => {
        const page = await search('t', '', { facets: ['AUTHOR', 'STATUS'] });
        expect(page.facets.map((entry) => entry.field)).toEqual(['AUTHOR', 'STATUS']);
        expect((await search('t', '')).facets).toEqual([]);
      });

      it('returns an entry without buckets when nothing matches', async () => {
        const page = await search('t', 'nonexistentword', { facets: ['TAGS'] });
        expect(page.facets).toEqual([{ field: 'TAGS', buckets: [] }]);
      });

      it(`keeps only the ${facetBucketLimit} most frequent values`, async () => {
        const many = Array.from(
          { length: facetBucketLimit + 2 },
          (_, i) => `tag-${String(i).padStart(2, '0')}`,
        );
        await index.apply([upsert('t', 'many', 1, { tags: many })]);
        const buckets = facet(await search('t', '', { facets: ['TAGS'] }), 'TAGS');
        expect(buckets).toHaveLength(facetBucketLimit);
        expect(buckets?.slice(0, 2)).toEqual([
          { value: 'api', count: 3 },
          { value: 'docs', count: 2 },
        ]);
      });
    });

    describe('highlights', () => {
      it('wraps matches in <em> and escapes the document text', async () => {
        await index.apply([
          upsert('t', 'h', 1, {
            title: 'Deploy <script>alert("x")</script> & friends',
            body: "Ops' notes: <b>deploy</b> on Fridays & never on weekends.",
          }),
        ]);
        const [hit] = (await search('t', 'deploy', { highlights: true })).hits;
        const title = hit?.highlights.find((h) => h.field === 'title')?.snippets.join(' ') ?? '';
        const body = hit?.highlights.find((h) => h.field === 'body')?.snippets.join(' ') ?? '';
        expect(title).toContain('<em>Deploy</em>');
        expect(title).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends');
        expect(body).toContain('&lt;b&gt;<em>deploy</em>&lt;/b&gt;');
        expect(body).toContain('Ops&#39; notes');
        for (const html of [title, body]) {
          expect(html.replaceAll('<em>', '').replaceAll('</em>', '')).not.toMatch(/[<>"']/);
        }
      });

      it('only highlights fields that matched', async () => {
        await index.apply([upsert('t', 'h', 1, { title: 'Weekly sync', body: 'Agenda: budget review.' })]);
        const [hit] = (await search('t', 'budget', { highlights: true })).hits;
        expect(hit?.highlights.map((h) => h.field)).toEqual(['body']);
        expect(hit?.highlights[0]?.snippets.join(' ')).toContain('<em>budget</em>');
      });

      it('computes no highlights unless asked for', async () => {
        await index.apply([upsert('t', 'h', 1, { title: 'Budget', body: 'Agenda: budget review.' })]);
        const [hit] = (await search('t', 'budget')).hits;
        expect(hit?.highlights).toEqual([]);
      });

      it('highlights other forms of a word, and every word of a question', async () => {
        await index.apply([
          upsert('t', 'h', 1, {
            title: 'Notes',
            body: 'The flutter of swept wings was measured while running.',
          }),
        ]);
        const [hit] = (await search('t', 'what about a wing that runs', { highlights: true })).hits;
        const body = hit?.highlights.find((h) => h.field === 'body')?.snippets.join(' ') ?? '';
        expect(body).toContain('<em>wings</em>');
        expect(body).toContain('<em>running</em>');
      });

      it(`reads only the first ${highlightWindowChars} characters of a field for highlights`, async () => {
        const filler = 'plain words, nothing else here. '.repeat(Math.ceil(highlightWindowChars / 32) + 10);
        await index.apply([
          upsert('t', 'far', 1, { title: 'Far', body: `${filler}needle` }),
          upsert('t', 'near', 1, { title: 'Near', body: `needle ${filler}` }),
        ]);
        const page = await search('t', 'needle', { highlights: true });
        // Matching still sees the whole body; only highlighting is bounded.
        expect(sortedIds(page)).toEqual(['far', 'near']);
        const body = (id: string) => page.hits.find((hit) => hit.documentId === id)?.highlights;
        expect(body('far')).toEqual([]);
        expect(body('near')?.[0]?.snippets[0]).toMatch(/^<em>needle<\/em> plain words/);
      });
    });

    describe('query syntax', () => {
      beforeEach(async () => {
        await index.apply([
          upsert('t', 'exact', 1, { title: 'Swept back wing', body: 'Flutter tests.' }),
          upsert('t', 'apart', 1, { title: 'Wing, back swept', body: 'Loads on a swept wing.' }),
          upsert('t', 'draft', 1, { title: 'Wing draft notes', body: 'Deployment of flaps.' }),
          upsert('t', 'other', 1, { title: 'Lunch menu', body: 'Soup.' }),
        ]);
      });

      it('requires a quoted phrase, words in that order', async () => {
        expect(ids(await search('t', '"back wing"'))).toEqual(['exact']);
        expect(ids(await search('t', 'loads "swept back"'))).toEqual(['exact']);
      });

      it('matches words starting with a prefix of at least three characters', async () => {
        expect(ids(await search('t', 'deploy*'))).toEqual(['draft']);
        expect(ids(await search('t', 'flap*'))).toEqual(['draft']);
        // Shorter prefixes are plain words.
        expect(ids(await search('t', 'de*'))).toEqual([]);
      });

      it('excludes -words and -"phrases", also with nothing else to match', async () => {
        expect(sortedIds(await search('t', 'wing -draft'))).toEqual(['apart', 'exact']);
        expect(sortedIds(await search('t', 'wing -"swept back"'))).toEqual(['apart', 'draft']);
        const page = await search('t', '-wing');
        expect(ids(page)).toEqual(['other']);
        expect(page.total).toBe(1);
      });

      it('requires +words while other words only rank', async () => {
        expect(ids(await search('t', 'lunch +flutter'))).toEqual(['exact']);
        expect(sortedIds(await search('t', 'soup +wing'))).toEqual(['apart', 'draft', 'exact']);
      });

      it('searches backend syntax and unbalanced syntax as plain words', async () => {
        for (const text of [
          '"wing',
          'wing"',
          'title:wing',
          'body:(wing OR x)',
          'NEAR(swept wing, 0)',
          'wing^9 ~2',
          '+',
          '-',
          '*',
          '""',
          '+"" -""',
          'w*',
          '(wing) [back] {draft}',
          'wing AND NOT draft',
        ]) {
          const page = await search('t', text);
          expect(page.total, text).toBeGreaterThanOrEqual(0);
        }
        // As Lucene or FTS5 syntax, NOT would exclude `draft`; here it is a word, and `draft` a candidate.
        expect(ids(await search('t', 'wing AND NOT draft'))).toContain('draft');
      });
    });

    describe('typo tolerance', () => {
      beforeEach(async () => {
        await index.apply([
          upsert('t', 'flutter', 1, { title: 'Wing flutter', body: 'Aerodynamic loads on a swept wing.' }),
          upsert('t', 'other', 1, { title: 'Lunch menu', body: 'Soup and bread.' }),
        ]);
      });

      it('finds a word misspelled by one edit (5 to 8 letters) or two (9 letters or more)', async () => {
        // A swap of neighbouring letters is one edit.
        expect(ids(await search('t', 'fluttre'))).toEqual(['flutter']);
        expect(ids(await search('t', 'flotter'))).toEqual(['flutter']);
        expect(ids(await search('t', 'flottre'))).toEqual([]);
        expect(ids(await search('t', 'airodinamic'))).toEqual(['flutter']);
      });

      it('does not correct words under five letters', async () => {
        expect(ids(await search('t', 'wign'))).toEqual([]);
        expect(ids(await search('t', 'wing'))).toEqual(['flutter']);
      });

      it('can be turned off per request', async () => {
        expect(ids(await search('t', 'fluttre', { typoTolerance: false }))).toEqual([]);
      });

      it('ranks a document with the word as typed above one with a correction of it', async () => {
        await index.apply([upsert('t', 'clutter', 1, { title: 'Clutter', body: 'Desk clutter.' })]);
        // "clutter" is one edit from "flutter", but as typed it ranks first.
        expect(ids(await search('t', 'clutter'))[0]).toBe('clutter');
      });
    });

    describe('synonyms', () => {
      beforeEach(async () => {
        await index.apply([
          upsert('t', 'kube', 1, { title: 'Kubernetes operators', body: 'Reconcile loops.' }),
          upsert('t', 'k8s', 1, { title: 'K8s upgrades', body: 'Drain the nodes first.' }),
          upsert('t', 'notebook', 1, { title: 'Notebook batteries', body: 'Charge cycles.' }),
          upsert('t', 'laptop', 1, { title: 'Laptop stands', body: 'Desk ergonomics.' }),
        ]);
        await index.replaceSynonyms('t', {
          equivalents: [{ words: ['k8s', 'kubernetes'] }],
          rules: [{ word: 'laptop', synonyms: ['notebook'] }],
        });
      });

      it('finds every word of an equivalent set from any one of them', async () => {
        expect(sortedIds(await search('t', 'k8s'))).toEqual(['k8s', 'kube']);
        expect(sortedIds(await search('t', 'kubernetes'))).toEqual(['k8s', 'kube']);
        expect((await search('t', 'kubernetes')).total).toBe(2);
      });

      it('applies a one-way rule in its direction only', async () => {
        expect(sortedIds(await search('t', 'laptop'))).toEqual(['laptop', 'notebook']);
        expect(ids(await search('t', 'notebook'))).toEqual(['notebook']);
      });

      it('ranks a document with the word as typed above one with its synonym', async () => {
        expect(ids(await search('t', 'kubernetes'))).toEqual(['kube', 'k8s']);
        expect(ids(await search('t', 'k8s'))).toEqual(['k8s', 'kube']);
        expect(ids(await search('t', 'laptop'))).toEqual(['laptop', 'notebook']);
      });

      it('highlights the synonym a document matched', async () => {
        const page = await search('t', 'laptop', { highlights: true });
        const notebook = page.hits.find((hit) => hit.documentId === 'notebook');
        expect(notebook?.highlights).toEqual([{ field: 'title', snippets: ['<em>Notebook</em> batteries'] }]);
      });

      it('matches other forms of a synonym word, as the index stems them', async () => {
        expect(sortedIds(await search('t', 'laptops'))).toEqual(['laptop', 'notebook']);
      });

      it('leaves phrases, prefixes, required and excluded words as typed', async () => {
        expect(ids(await search('t', '+laptop'))).toEqual(['laptop']);
        expect(ids(await search('t', '"laptop stands"'))).toEqual(['laptop']);
        expect(ids(await search('t', 'lapto*'))).toEqual(['laptop']);
        expect(sortedIds(await search('t', 'stands -laptop'))).toEqual([]);
      });

      it('reads back what was set, and uses a replacement from the next search on', async () => {
        expect(await index.synonyms('t')).toEqual({
          equivalents: [{ words: ['k8s', 'kubernetes'] }],
          rules: [{ word: 'laptop', synonyms: ['notebook'] }],
        });
        await index.replaceSynonyms('t', {
          equivalents: [],
          rules: [{ word: 'notebook', synonyms: ['laptop'] }],
        });
        expect(ids(await search('t', 'k8s'))).toEqual(['k8s']);
        expect(ids(await search('t', 'laptop'))).toEqual(['laptop']);
        expect(sortedIds(await search('t', 'notebook'))).toEqual(['laptop', 'notebook']);
      });

      it("never changes another tenant's results", async () => {
        await index.apply([
          upsert('other', 'kube', 1, { title: 'Kubernetes operators' }),
          upsert('other', 'k8s', 1, { title: 'K8s upgrades' }),
        ]);
        expect(ids(await search('other', 'k8s'))).toEqual(['k8s']);
        expect(await index.synonyms('other')).toEqual({ equivalents: [], rules: [] });
      });

      it(`expands a query only up to ${maxQueryTerms} distinct terms, one synonym per word in turn`, async () => {
        const targets = Array.from({ length: 5 }, (_, i) => `target${i}`);
        await index.apply(targets.map((word) => upsert('t', word, 1, { title: `About ${word}` })));
        await index.replaceSynonyms('t', { equivalents: [], rules: [{ word: 'source', synonyms: targets }] });
        expect(sortedIds(await search('t', 'source'))).toEqual(targets);
        // With 29 other words there is room for two of the five synonyms.
        const filler = Array.from({ length: maxQueryTerms - 3 }, (_, i) => `filler${i}`);
        expect(sortedIds(await search('t', ['source', ...filler].join(' ')))).toEqual(['target0', 'target1']);
      });
    });

    describe('didYouMean', () => {
      const didYouMean = async (tenantId: string, text: string, request: Partial<SearchRequest> = {}) =>
        (await search(tenantId, text, { didYouMean: true, ...request })).didYouMean;

      beforeEach(async () => {
        await index.apply([
          upsert('t', 'flutter', 1, { title: 'Wing flutter', body: 'Aerodynamic loads on a swept wing.' }),
          upsert('t', 'pressure', 1, { title: 'Pressure gradients', body: 'Boundary layer pressure.' }),
          upsert('t', 'clutter', 1, { title: 'Desk clutter', body: 'Clutter on desks.' }),
          upsert('other', 'o1', 1, { title: 'Fluttre', body: 'A tenant whose word this is.' }),
        ]);
      });

      it('replaces each word none of the documents hold by its closest correction, spelled as a word', async () => {
        // Only the misspelled words change; the rest of the query stays as typed.
        expect(await didYouMean('t', 'Wing fluttre and the presure')).toBe('Wing flutter and the pressure');
        expect(await didYouMean('t', 'airodinamic loads')).toBe('aerodynamic loads');
      });

      it('is absent when every word is in some document, or has no correction', async () => {
        expect(await didYouMean('t', 'wing flutter')).toBeUndefined();
        // "clutter" is one edit from "flutter", but the documents hold it: it is never replaced.
        expect(await didYouMean('t', 'clutter')).toBeUndefined();
        expect(await didYouMean('t', 'wing zzzzzzz')).toBeUndefined();
        expect(await didYouMean('t', 'wign')).toBeUndefined();
      });

      it("takes corrections from the tenant's own documents only", async () => {
        // Another tenant holds "fluttre": this tenant's typo is still corrected from its own words.
        expect(await didYouMean('t', 'fluttre')).toBe('flutter');
        expect(await didYouMean('other', 'fluttre')).toBeUndefined();
        expect(await didYouMean('empty-tenant', 'fluttre')).toBeUndefined();
      });

      it('is absent with typo tolerance off, and unless asked for', async () => {
        expect(await didYouMean('t', 'fluttre', { typoTolerance: false })).toBeUndefined();
        expect((await search('t', 'fluttre')).didYouMean).toBeUndefined();
      });
    });

    describe('query bounds', () => {
      it('counts a repeated word once', async () => {
        await index.apply([upsert('t', 'd', 1, { title: 'The wing' })]);
        const page = await search('t', `${'the wing '.repeat(124)}`, { highlights: true });
        expect(ids(page)).toEqual(['d']);
      });

      it(`refuses more than ${maxQueryTerms} distinct terms, before reaching the backend`, async () => {
        const words = Array.from({ length: maxQueryTerms + 1 }, (_, i) => `word${i}`);
        await expect(search('t', words.join(' '))).rejects.toBeInstanceOf(TooManyQueryTermsError);
        await expect(search('t', words.slice(1).join(' '))).resolves.toBeDefined();
      });
    });

    describe('sorting and pagination', () => {
      // Shared update times and identical texts make ties, which the cursor must still step through exactly.
      const corpus = Array.from({ length: 25 }, (_, i) => {
        const id = `doc-${String(i).padStart(2, '0')}`;
        return upsert('t', id, 1, {
          title: i % 3 === 0 ? `Widget manual ${i % 2}` : `Manual ${i % 2}`,
          body: i % 4 === 0 ? 'widget widget widget' : 'nothing here',
          updatedAt: minutes(i % 7),
        });
      });
      const widgetIds = corpus
        .filter((change) => /widget/i.test(`${change.document?.title} ${change.document?.body}`))
        .map((change) => change.documentId);

      beforeEach(async () => {
        await index.apply(corpus);
      });

      async function collectPages(text: string, sort: SearchSort) {
        const pages: SearchPage[] = [];
        let next: Pick<SearchRequest, 'after' | 'session'> = {};
        for (;;) {
          const page = await search('t', text, { sort, first: 10, ...next });
          pages.push(page);
          next = { after: page.hits.at(-1)?.sortKey, ...(page.session ? { session: page.session } : {}) };
          if (!page.hasNextPage || pages.length > 10) return pages;
        }
      }

      const cases: [string, SearchSort][] = [
        ['', 'RELEVANCE'],
        ['', 'UPDATED_DESC'],
        ['', 'UPDATED_ASC'],
        ['manual', 'RELEVANCE'],
        ['manual', 'UPDATED_ASC'],
      ];
      for (const [text, sort] of cases) {
        it(`visits every match exactly once in order: text "${text}", ${sort}`, async () => {
          const pages = await collectPages(text, sort);
          expect(pages.map((page) => page.hits.length)).toEqual([10, 10, 5]);
          expect(pages.map((page) => page.hasNextPage)).toEqual([true, true, false]);
          expect(pages.every((page) => page.total === 25)).toBe(true);
          const visited = pages.flatMap(ids);
          expect(new Set(visited).size).toBe(25);
          expect(visited).toEqual(ids(await search('t', text, { sort, first: 25 })));
        });
      }

      // The paging guarantee every backend gives (Elasticsearch gives more: pages from one point in time).
      for (const sort of ['UPDATED_DESC', 'UPDATED_ASC'] as const) {
        it(`returns every document not written while paging exactly once, in order, whatever is written between pages: ${sort}`, async () => {
          const before = ids(await search('t', '', { sort, first: 25 }));
          const first = await search('t', '', { sort, first: 10 });
          const [seen] = ids(first);
          const [unseenUpdated, unseenDeleted] = before.slice(15);
          // A new document, one already seen and one not yet seen updated (both move), one not yet seen deleted.
          await index.apply([
            upsert('t', 'doc-new', 1, { updatedAt: minutes(100) }),
            upsert('t', seen ?? '', 2, { updatedAt: minutes(101) }),
            upsert('t', unseenUpdated ?? '', 2, { updatedAt: minutes(102) }),
            remove('t', unseenDeleted ?? '', 2),
          ]);
          const pages = [first];
          for (let page = first; page.hasNextPage && pages.length < 10; ) {
            page = await search('t', '', {
              sort,
              first: 10,
              after: page.hits.at(-1)?.sortKey,
              ...(page.session ? { session: page.session } : {}),
            });
            pages.push(page);
          }
          const written = new Set(['doc-new', seen, unseenUpdated, unseenDeleted]);
          const visited = pages.flatMap(ids).filter((id) => !written.has(id));
          expect(visited).toEqual(before.filter((id) => !written.has(id)));
        });
      }

      it('pages through ranked matches in descending score', async () => {
        const pages = await collectPages('widget', 'RELEVANCE');
        const hits = pages.flatMap((page) => page.hits);
        expect(hits.map((hit) => hit.documentId).sort()).toEqual(widgetIds);
        for (let i = 1; i < hits.length; i += 1) {
          expect(hits[i]?.score).toBeLessThanOrEqual(hits[i - 1]?.score ?? 0);
        }
      });

      it('orders by update time in both directions', async () => {
        const updated = new Map(
          corpus.map((change) => [change.documentId, change.document?.updatedAt.getTime() ?? 0]),
        );
        const times = (page: SearchPage) => ids(page).map((id) => updated.get(id) ?? 0);
        const descending = times(await search('t', '', { sort: 'UPDATED_DESC', first: 25 }));
        const ascending = times(await search('t', '', { sort: 'UPDATED_ASC', first: 25 }));
        expect(descending).toEqual([...descending].sort((a, b) => b - a));
        expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
        expect(descending[0]).toBe(minutes(6).getTime());
        expect(ascending[0]).toBe(minutes(0).getTime());
      });

      it('sorts only the matches when sorting text results by time', async () => {
        const page = await search('t', 'widget', { sort: 'UPDATED_DESC', first: 25 });
        expect([...ids(page)].sort()).toEqual(widgetIds);
        const updated = page.hits.map((hit) => corpus.find((c) => c.documentId === hit.documentId)?.document);
        const times = updated.map((document) => document?.updatedAt.getTime() ?? 0);
        expect(times).toEqual([...times].sort((a, b) => b - a));
      });

      it('treats empty-text RELEVANCE as newest first', async () => {
        const relevance = await search('t', '', { sort: 'RELEVANCE', first: 25 });
        const newest = await search('t', '', { sort: 'UPDATED_DESC', first: 25 });
        expect(ids(relevance)).toEqual(ids(newest));
      });
    });

    describe('suggest', () => {
      beforeEach(async () => {
        await index.apply([
          upsert('t', 's1', 1, { title: 'Database migration guide' }),
          upsert('t', 's2', 1, { title: 'Data lake overview' }),
          upsert('t', 's3', 1, { title: 'Dashboard design' }),
          upsert('t', 's4', 1, { title: 'Migration checklist', body: 'database' }),
          upsert('t', 's5', 1, { title: 'Dashboard design' }),
          upsert('t', 's6', 1, { title: 'Running shoes' }),
        ]);
      });

      it('completes the last word as a prefix, in titles only, without duplicates', async () => {
        expect((await index.suggest('t', 'da', 10)).sort()).toEqual([
          'Dashboard design',
          'Data lake overview',
          'Database migration guide',
        ]);
        expect((await index.suggest('t', 'dat', 10)).sort()).toEqual([
          'Data lake overview',
          'Database migration guide',
        ]);
      });

      it('requires the earlier words in full and the last as a prefix', async () => {
        expect(await index.suggest('t', 'database migr', 10)).toEqual(['Database migration guide']);
        expect(await index.suggest('t', 'migration che', 10)).toEqual(['Migration checklist']);
        expect(await index.suggest('t', 'migr database', 10)).toEqual([]);
      });

      it('completes words the stemmer would shorten', async () => {
        expect(await index.suggest('t', 'runni', 10)).toEqual(['Running shoes']);
        expect(await index.suggest('t', 'running sh', 10)).toEqual(['Running shoes']);
      });

      it('returns at most `first` titles', async () => {
        expect(await index.suggest('t', 'da', 2)).toHaveLength(2);
      });

      it('returns nothing for an empty prefix', async () => {
        expect(await index.suggest('t', '', 10)).toEqual([]);
        expect(await index.suggest('t', '  ', 10)).toEqual([]);
      });
    });

    describe('applying changes', () => {
      it('removes deleted documents from hits, total, facets and suggestions', async () => {
        await index.apply([
          upsert('t', 'keep', 1, { title: 'Gamma ray', tags: ['physics'] }),
          upsert('t', 'gone', 1, { title: 'Gamma burst', tags: ['astro'] }),
        ]);
        await index.apply([remove('t', 'gone', 2)]);
        const page = await search('t', 'gamma', { facets: ['TAGS'] });
        expect(ids(page)).toEqual(['keep']);
        expect(page.total).toBe(1);
        expect(facet(page, 'TAGS')).toEqual([{ value: 'physics', count: 1 }]);
        expect(await index.suggest('t', 'gam', 10)).toEqual(['Gamma ray']);
      });

      it('replaces a document on a newer upsert', async () => {
        await index.apply([upsert('t', 'd', 1, { title: 'Old title', tags: ['old'] })]);
        await index.apply([upsert('t', 'd', 2, { title: 'New title', tags: ['new'] })]);
        const page = await search('t', 'title', { facets: ['TAGS'] });
        expect(ids(page)).toEqual(['d']);
        expect(facet(page, 'TAGS')).toEqual([{ value: 'new', count: 1 }]);
        expect(ids(await search('t', 'old'))).toEqual([]);
      });

      it('ignores the same change applied twice', async () => {
        const change = upsert('t', 'd', 1, { title: 'Twice applied', tags: ['dup'] });
        await index.apply([change]);
        await index.apply([change, change]);
        const page = await search('t', 'twice', { facets: ['TAGS'] });
        expect(ids(page)).toEqual(['d']);
        expect(page.total).toBe(1);
        expect(facet(page, 'TAGS')).toEqual([{ value: 'dup', count: 1 }]);
        expect(await index.suggest('t', 'twi', 10)).toEqual(['Twice applied']);
      });

      it('ignores an older version arriving after a newer one', async () => {
        await index.apply([upsert('t', 'd', 3, { title: 'Third edition' })]);
        await index.apply([
          upsert('t', 'd', 2, { title: 'Second edition' }),
          upsert('t', 'd', 3, { title: 'Bogus' }),
        ]);
        expect(ids(await search('t', 'third'))).toEqual(['d']);
        expect(ids(await search('t', 'second'))).toEqual([]);
        expect(ids(await search('t', 'bogus'))).toEqual([]);
      });

      it('does not resurrect a deleted document from an older upsert', async () => {
        await index.apply([upsert('t', 'd', 1, { title: 'Phoenix' }), remove('t', 'd', 2)]);
        await index.apply([upsert('t', 'd', 1, { title: 'Phoenix' })]);
        const page = await search('t', '');
        expect(page.total).toBe(0);
        expect(ids(await search('t', 'phoenix'))).toEqual([]);
      });

      it('ignores a delete of an older version', async () => {
        await index.apply([upsert('t', 'd', 5, { title: 'Survivor' })]);
        await index.apply([remove('t', 'd', 4)]);
        expect(ids(await search('t', 'survivor'))).toEqual(['d']);
      });

      it('recreates a deleted document from a newer upsert', async () => {
        await index.apply([upsert('t', 'd', 1, { title: 'Lazarus' }), remove('t', 'd', 2)]);
        await index.apply([upsert('t', 'd', 3, { title: 'Lazarus returns' })]);
        expect(ids(await search('t', 'lazarus'))).toEqual(['d']);
      });

      it('accepts a delete of a document it never saw, and keeps it deleted', async () => {
        await index.apply([remove('t', 'ghost', 2)]);
        await index.apply([upsert('t', 'ghost', 1, { title: 'Ghost' })]);
        expect((await search('t', '')).total).toBe(0);
      });

      it('applies an empty batch', async () => {
        await expect(index.apply([])).resolves.toEqual({ rejected: [] });
      });
    });
  });
}

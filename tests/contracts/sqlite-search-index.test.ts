import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DocumentChange, DocumentRecord } from '../../server/documents/model.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteSearchIndex } from '../../subgraphs/search/adapters/sqlite-search-index.ts';
import { TooManyQueryTermsError } from '../../subgraphs/search/query-parser.ts';
import type { SearchRequest } from '../../subgraphs/search/search-index.ts';
import { deleteChange, upsertChange } from '../helpers/document-changes.ts';
import { queryText } from '../helpers/query-text.ts';
import type { WriterData } from '../helpers/search-index-writer.ts';
import { describeSearchIndexContract } from './search-index.contract.ts';

async function openDatabase() {
  const directory = await mkdtemp(join(tmpdir(), 'quarry-search-'));
  const db = new EmbeddedDatabase(join(directory, 'quarry.db'));
  return {
    db,
    async cleanup() {
      db.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

describeSearchIndexContract('SQLite FTS5', async () => {
  const { db, cleanup } = await openDatabase();
  const index = new SqliteSearchIndex(db);
  return {
    index,
    async cleanup() {
      await index.close();
      await cleanup();
    },
  };
});

// Again with every word's facet counts kept between searches, so that every facet case above takes that path too.
describeSearchIndexContract('SQLite FTS5, facet counts kept for every word', async () => {
  const { db, cleanup } = await openDatabase();
  const index = new SqliteSearchIndex(db, { keptFacetsMinDocuments: 1 });
  return {
    index,
    async cleanup() {
      await index.close();
      await cleanup();
    },
  };
});

// Again with every word but a query's rarest left out of its page's candidates where the bound allows, so that every
// ranked case above takes that path or its fallback.
describeSearchIndexContract('SQLite FTS5, pages ranked from the rarer words', async () => {
  const { db, cleanup } = await openDatabase();
  const index = new SqliteSearchIndex(db, { prunedWordMinDocuments: 1, prunedWordMinShare: 0 });
  return {
    index,
    async cleanup() {
      await index.close();
      await cleanup();
    },
  };
});

/** How each search of `db` found its page: from pruned candidates alone, or (also) over every match. */
function pagePaths(db: EmbeddedDatabase) {
  let statements: string[] = [];
  const statement = db.statement.bind(db);
  vi.spyOn(db, 'statement').mockImplementation((sql) => {
    statements.push(sql);
    return statement(sql);
  });
  return {
    /** The paths the searches since the last call took. */
    taken() {
      const pruned = statements.some((sql) => sql.includes('candidates AS'));
      const full = statements.some((sql) => sql.includes('page AS') && !sql.includes('candidates AS'));
      statements = [];
      return { pruned, full };
    },
  };
}

const unpruned = (db: EmbeddedDatabase) =>
  new SqliteSearchIndex(db, { prunedWordMinDocuments: Number.POSITIVE_INFINITY });

const upsert = (tenantId: string, id: string, version: number, title: string, body = ''): DocumentChange =>
  upsertChange(tenantId, id, version, { title, body });

/** The change with these fields set on its document. */
const withFields = (change: DocumentChange, fields: Partial<DocumentRecord>): DocumentChange => ({
  ...change,
  document: change.document && { ...change.document, ...fields },
});

/** The tenant's TAGS facet for the word "steady", as `reader` counts it. */
const steadyTags = async (reader: SqliteSearchIndex, tenantId: string) =>
  (
    await reader.search({
      tenantId,
      text: 'steady',
      filter: {},
      sort: 'RELEVANCE',
      first: 5,
      facets: ['TAGS'],
    })
  ).facets;

describe('SqliteSearchIndex', () => {
  let db: EmbeddedDatabase;
  let index: SqliteSearchIndex;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ db, cleanup } = await openDatabase());
    index = new SqliteSearchIndex(db);
  });

  afterEach(async () => {
    await index.close();
    await cleanup();
  });

  const search = (tenantId: string, text: string, request: Partial<SearchRequest> = {}) =>
    index.search({ tenantId, text, filter: {}, sort: 'RELEVANCE', first: 50, facets: [], ...request });
  const databasePath = () => (db.connection.prepare('PRAGMA database_list').get() as { file: string }).file;
  const tableNames = () =>
    (
      db.connection.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'search_%'").all() as {
        name: string;
      }[]
    )
      .map((row) => row.name)
      .sort();
  const registry = () =>
    db.connection.prepare('SELECT tenant_id, table_no FROM search_tenants ORDER BY table_no').all() as {
      tenant_id: string;
      table_no: number;
    }[];

  it("erasing a tenant forgets its synonyms, and keeps another tenant's", async () => {
    const rule = { equivalents: [], rules: [{ word: 'laptop', synonyms: ['notebook'] }] };
    for (const tenantId of ['leaving', 'staying']) {
      await index.apply([upsert(tenantId, 'n', 1, 'Notebook batteries')]);
      await index.replaceSynonyms(tenantId, rule);
    }
    await index.eraseTenant('leaving');
    const rows = (table: string) =>
      db.connection
        .prepare(`SELECT DISTINCT tenant_id FROM ${table}`)
        .all()
        .map((row) => row.tenant_id);
    expect(rows('search_synonyms')).toEqual(['staying']);
    expect(rows('search_synonym_lookup')).toEqual(['staying']);
    expect(await index.synonyms('leaving')).toEqual({ equivalents: [], rules: [] });
    // A tenant of the same name starting again starts without them.
    await index.apply([upsert('leaving', 'n', 1, 'Notebook batteries')]);
    expect(await search('leaving', 'laptop')).toMatchObject({ hits: [] });
    expect((await search('staying', 'laptop')).hits.map((hit) => hit.documentId)).toEqual(['n']);
  });

  const hostileTenants = [
    "acme'; DROP TABLE search_tenants; --",
    'tenant "quoted" ]` [x]',
    'ü/../../etc',
    '',
  ];

  it('gives each tenant numbered tables whose names never contain the tenant id', async () => {
    await index.apply(hostileTenants.map((tenant, i) => upsert(tenant, `doc-${i}`, 1, `Shared words ${i}`)));
    expect(registry()).toEqual(hostileTenants.map((tenant_id, i) => ({ tenant_id, table_no: i + 1 })));
    const shared = [
      'search_tenants',
      'search_versions',
      'search_versions_by_deleted',
      'search_generations',
      'search_synonyms',
      'search_synonym_lookup',
    ];
    const perTenant = tableNames().filter((name) => !shared.includes(name));
    for (const name of perTenant)
      expect(name).toMatch(/^search_(fts|suggest|docs|tags|vocab)_\d+(_[a-z0-9]+)?$/);
    expect(perTenant).toContain('search_fts_4');
    for (const [i, tenant] of hostileTenants.entries()) {
      const page = await search(tenant, 'shared words');
      expect(page.hits.map((hit) => hit.documentId)).toEqual([`doc-${i}`]);
    }
  });

  it('does not create anything when searching or deleting for an unknown tenant', async () => {
    const before = tableNames();
    expect((await search('nobody', 'anything', { facets: ['TAGS'] })).total).toBe(0);
    expect(await index.suggest('nobody', 'any', 5)).toEqual([]);
    await index.apply([{ ...upsert('nobody', 'x', 2, ''), operation: 'delete', document: null }]);
    expect(tableNames()).toEqual(before);
    expect(registry()).toEqual([]);
  });

  it('binds query text instead of interpreting it as FTS5 syntax', async () => {
    await index.apply([upsert('t', 'secret', 1, 'Plan', 'secret words kept far away from the plan')]);
    // As FTS5 syntax these would be a column filter and a NEAR group, and would not match.
    expect((await search('t', 'title:secret')).total).toBe(1);
    expect((await search('t', 'NEAR(secret plan, 0)')).total).toBe(1);
    // As an FTS5 prefix query this would match "plan"; Quarry's prefixes need three characters.
    expect((await search('t', 'pl*')).total).toBe(0);
    expect((await search('t', "'); DROP TABLE search_tenants; --")).total).toBe(0);
    expect((await search('t', 'secret "plan')).total).toBe(1);
    expect(registry()).toHaveLength(1);
  });

  it('answers any text without a backend error: only the term bound may refuse it', async () => {
    await index.apply([upsert('t', 'doc', 1, 'Swept wing flutter', 'Deployment of the flaps near the tip.')]);
    const text = queryText(120);
    await fc.assert(
      fc.asyncProperty(text, async (input) => {
        await search('t', input, { highlights: true, facets: ['TAGS'] }).catch((error: unknown) => {
          expect(error).toBeInstanceOf(TooManyQueryTermsError);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('continues a relevance page after its last hit although writes since moved every score', async () => {
    // One term in bodies of growing length: a strict order d00, d01, … d19.
    await index.apply(
      Array.from({ length: 20 }, (_, i) =>
        upsert('t', `d${String(i).padStart(2, '0')}`, 1, `Note ${i}`, `alpha ${'filler '.repeat(i)}`),
      ),
    );
    const first = await search('t', 'alpha', { first: 5 });
    expect(first.hits.map((hit) => hit.documentId)).toEqual(['d00', 'd01', 'd02', 'd03', 'd04']);
    // A document that does not even match changes the tenant's statistics, and with them every bm25 score.
    await index.apply([upsert('t', 'other', 1, 'Unrelated', 'nothing to see here')]);
    const next = await search('t', 'alpha', { first: 5, after: first.hits.at(-1)?.sortKey });
    expect(next.hits.map((hit) => hit.documentId)).toEqual(['d05', 'd06', 'd07', 'd08', 'd09']);
  });

  it('takes a word as known from the moment a document with it is indexed, though counts are kept', async () => {
    await index.apply([upsert('known', 'a', 1, 'Pressure gauge')]);
    // "presure" is not in the index yet: corrected to "pressure", and the count of its documents (none) is kept.
    expect((await search('known', 'presure', { didYouMean: true })).didYouMean).toBe('pressure');
    await index.apply([upsert('known', 'b', 1, 'Presure valve')]);
    const page = await search('known', 'presure', { didYouMean: true });
    expect(page.didYouMean).toBeUndefined();
    expect(page.hits.map((hit) => hit.documentId)).toEqual(['b']);
  });

  it('matches everything when the text has no words', async () => {
    await index.apply([upsert('t', 'a', 1, 'One'), upsert('t', 'b', 1, 'Two')]);
    expect((await search('t', ' !?* "" ')).total).toBe(2);
  });

  it('keeps marker characters in documents from forging highlights', async () => {
    await index.apply([upsert('t', 'm', 1, 'Forged \uE000 open', 'the needle is here \uE001')]);
    const [hit] = (await search('t', 'needle', { highlights: true })).hits;
    expect(hit?.highlights).toEqual([{ field: 'body', snippets: ['the <em>needle</em> is here '] }]);
  });

  it('prunes tombstones of deletes committed before the cutoff, a batch at a time, and never a live version', async () => {
    const at = (iso: string) => new Date(iso);
    const deleted = (id: string, version: number, committedAt: string): DocumentChange => ({
      ...deleteChange('t', id, version),
      committedAt: at(committedAt),
    });
    await index.apply([
      upsert('t', 'live', 1, 'Still here'),
      upsert('t', 'old', 1, 'Old'),
      upsert('t', 'older', 1, 'Older'),
      upsert('t', 'recent', 1, 'Recent'),
    ]);
    await index.apply([
      deleted('old', 2, '2024-01-02T00:00:00.000Z'),
      deleted('older', 2, '2024-01-01T00:00:00.000Z'),
      deleted('recent', 2, '2024-03-01T00:00:00.000Z'),
    ]);
    const cutoff = at('2024-03-01T00:00:00.000Z');
    expect(await index.pruneTombstones(cutoff, 1)).toBe(1);
    expect(await index.pruneTombstones(cutoff, 1)).toBe(1);
    expect(await index.pruneTombstones(cutoff, 1)).toBe(0);
    // The pruned ids take any version again; the recent tombstone still refuses an older write.
    await index.apply([upsert('t', 'old', 1, 'Old again'), upsert('t', 'recent', 1, 'Recent again')]);
    expect((await search('t', 'again')).hits.map((hit) => hit.documentId)).toEqual(['old']);
    expect((await search('t', 'still')).hits.map((hit) => hit.documentId)).toEqual(['live']);
  });

  it('dates the tombstones of an index made before pruning existed so that the first pruning removes them', async () => {
    await index.apply([upsert('t', 'kept', 1, 'Kept'), upsert('t', 'gone', 1, 'Gone')]);
    await index.apply([deleteChange('t', 'gone', 2)]);
    db.connection.exec('DROP INDEX search_versions_by_deleted');
    db.connection.exec('ALTER TABLE search_versions DROP COLUMN deleted_at');
    const upgraded = new SqliteSearchIndex(db);
    expect(await upgraded.pruneTombstones(new Date(1), 10)).toBe(1);
    expect((await search('t', 'kept')).total).toBe(1);
  });

  it('refuses a change it cannot apply, for good, and applies the rest of its batch', async () => {
    const broken: DocumentChange = { ...upsert('t', 'bad', 1, ''), document: null };
    const { rejected } = await index.apply([upsert('t', 'good', 1, 'Committed?'), broken]);
    expect(rejected).toEqual([
      { change: broken, error: expect.stringMatching(/no document/), permanent: true },
    ]);
    expect((await search('t', 'committed')).hits.map((hit) => hit.documentId)).toEqual(['good']);
    // Nothing of the refused change was written: a later, whole version of it applies.
    await index.apply([upsert('t', 'bad', 1, 'Repaired')]);
    expect((await search('t', 'repaired')).total).toBe(1);
  });

  it('shares the database: a second instance sees the data and close leaves it open', async () => {
    await index.apply([upsert('t', 'd', 1, 'Persistent')]);
    const again = new SqliteSearchIndex(db);
    expect(
      (
        await again.search({
          tenantId: 't',
          text: 'persistent',
          filter: {},
          sort: 'RELEVANCE',
          first: 5,
          facets: [],
        })
      ).total,
    ).toBe(1);
    await again.close();
    expect(db.connection.isOpen).toBe(true);
  });

  for (const kept of [false, true]) {
    it(`takes hits, total and facets from one snapshot while the indexer writes on another connection${kept ? ', with facet counts kept between searches' : ''}`, async () => {
      const reader = kept ? new SqliteSearchIndex(db, { keptFacetsMinDocuments: 1 }) : index;
      const size = 20;
      await index.apply(
        Array.from({ length: size }, (_, i) =>
          withFields(upsert('t', `g0-${i}`, 1, 'Steady 0'), { tags: ['g0'] }),
        ),
      );
      const control = new Int32Array(new SharedArrayBuffer(8));
      const writerData: WriterData = { path: databasePath(), tenantId: 't', size, control };
      const writer = new Worker(new URL('../helpers/search-index-writer.ts', import.meta.url), {
        workerData: writerData,
      });
      const exited = new Promise((resolve, reject) => writer.once('exit', resolve).once('error', reject));
      const generations = new Set<string>();
      try {
        // Until the reads have met several of the writer's generations: on a busy machine the worker alone
        // took more than a second to start, so the bound only stops a writer that never writes.
        const deadline = performance.now() + 15_000;
        while (performance.now() < deadline && (generations.size < 5 || Atomics.load(control, 1) < 20)) {
          const page = await reader.search({
            tenantId: 't',
            text: 'steady',
            filter: {},
            sort: 'RELEVANCE',
            first: size * 2,
            facets: ['TAGS', 'STATUS'],
          });
          const seen = new Set(page.hits.map((hit) => hit.documentId.split('-')[0]));
          expect(page.hits).toHaveLength(size);
          expect(page.total).toBe(size);
          expect(seen.size).toBe(1);
          const [generation] = seen;
          expect(page.facets).toEqual([
            { field: 'TAGS', buckets: [{ value: generation, count: size }] },
            { field: 'STATUS', buckets: [{ value: 'PUBLISHED', count: size }] },
          ]);
          generations.add(String(generation));
        }
      } finally {
        Atomics.store(control, 0, 1);
        await exited;
      }
      // Without several generations the writer never overlapped the reads, and the test would prove nothing.
      expect(generations.size).toBeGreaterThan(2);
    });
  }

  it('sums the kept counts of the common word and the counts of the matches without it', async () => {
    // "common" is in four documents, "rare" in three, one of which also has "common".
    const documents: [string, string, string[], 'DRAFT' | 'PUBLISHED'][] = [
      ['c1', 'common', ['red'], 'PUBLISHED'],
      ['c2', 'common', ['red', 'blue'], 'PUBLISHED'],
      ['c3', 'common', ['blue'], 'DRAFT'],
      ['both', 'common rare', ['green'], 'DRAFT'],
      ['r1', 'rare', ['green', 'red'], 'DRAFT'],
      ['r2', 'rare', ['green'], 'DRAFT'],
    ];
    await index.apply(
      documents.map(([id, body, tags, status]) => {
        const change = upsert('sums', id, 1, 'Note', body);
        return withFields(change, { tags, status });
      }),
    );
    const kept = new SqliteSearchIndex(db, { keptFacetsMinDocuments: 4 });
    const request: SearchRequest = {
      tenantId: 'sums',
      text: 'rare common',
      filter: {},
      sort: 'RELEVANCE',
      first: 2,
      facets: ['TAGS', 'STATUS'],
    };
    const expected = {
      total: 6,
      facets: [
        {
          field: 'TAGS',
          buckets: [
            { value: 'green', count: 3 },
            { value: 'red', count: 3 },
            { value: 'blue', count: 2 },
          ],
        },
        {
          field: 'STATUS',
          buckets: [
            { value: 'DRAFT', count: 4 },
            { value: 'PUBLISHED', count: 2 },
          ],
        },
      ],
    };
    // Twice: first counting the common word's matches, then from what was kept.
    for (const _ of [1, 2]) {
      const page = await kept.search(request);
      expect({ total: page.total, facets: page.facets }).toEqual(expected);
      expect(page).toEqual(await index.search(request));
    }
  });

  it('never counts facets kept from before an erasure for the tenant indexed again', async () => {
    const kept = new SqliteSearchIndex(db, { keptFacetsMinDocuments: 1 });
    const indexTagged = (tag: string) =>
      index.apply([withFields(upsert('again', 'a', 1, 'Steady'), { tags: [tag] })]);
    const tags = () => steadyTags(kept, 'again');
    await indexTagged('before');
    expect(await tags()).toEqual([{ field: 'TAGS', buckets: [{ value: 'before', count: 1 }] }]);
    // The tenant had the last table number, so indexed again it gets the same number and tables.
    await index.eraseTenant('again');
    await indexTagged('after');
    expect(await tags()).toEqual([{ field: 'TAGS', buckets: [{ value: 'after', count: 1 }] }]);
  });

  it('keeps no facet counts for a tenant whose changes an indexer that does not count them applied', async () => {
    const kept = new SqliteSearchIndex(db, { keptFacetsMinDocuments: 1 });
    // What an indexer from before generations leaves: the change applied, no generation counted.
    const applyUncounted = async (change: DocumentChange, tag: string) => {
      await index.apply([withFields(change, { tags: [tag] })]);
      db.connection.prepare('DELETE FROM search_generations WHERE tenant_id = ?').run('old');
    };
    const tags = () => steadyTags(kept, 'old');
    await applyUncounted(upsert('old', 'a', 1, 'Steady'), 'first');
    expect(await tags()).toEqual([{ field: 'TAGS', buckets: [{ value: 'first', count: 1 }] }]);
    await applyUncounted(upsert('old', 'a', 2, 'Steady'), 'second');
    expect(await tags()).toEqual([{ field: 'TAGS', buckets: [{ value: 'second', count: 1 }] }]);
  });

  it('counts facets of common words kept between searches exactly as over every match, through writes', async () => {
    // A small vocabulary with one word in most documents, so the kept counts are the common case here.
    const words = ['common', 'alpha', 'beta', 'gamma', 'delta'];
    const document = fc.record({
      id: fc.integer({ min: 0, max: 40 }),
      words: fc.subarray(words, { minLength: 1 }),
      tags: fc.subarray(['red', 'green', 'blue', 'ünï', '𝒳'], { maxLength: 3 }),
      status: fc.constantFrom('DRAFT', 'PUBLISHED', 'ARCHIVED'),
      author: fc.option(fc.constantFrom('ada', 'bob', 'cy')),
    });
    const step = fc.oneof(
      fc.record({ write: document }),
      fc.record({ remove: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ search: fc.subarray(words, { minLength: 1, maxLength: 3 }) }),
    );
    let run = 0;
    await fc.assert(
      // The bound decides which words are common: all of them, some, or none.
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        async (steps, bound) => {
          const tenantId = `prop-${run++}`;
          const kept = new SqliteSearchIndex(db, { keptFacetsMinDocuments: bound });
          const counted = new SqliteSearchIndex(db, { keptFacetsMinDocuments: Number.POSITIVE_INFINITY });
          let version = 0;
          for (const next of steps) {
            version += 1;
            if ('write' in next) {
              const { id, words: body, tags, status, author } = next.write;
              const change = upsert(tenantId, `d${id}`, version, 'Note', body.join(' '));
              await index.apply([withFields(change, { tags, status, author })]);
            } else if ('remove' in next)
              await index.apply([deleteChange(tenantId, `d${next.remove}`, version)]);
            else {
              const request: SearchRequest = {
                tenantId,
                text: next.search.join(' '),
                filter: {},
                sort: 'RELEVANCE',
                first: 3,
                facets: ['TAGS', 'STATUS', 'AUTHOR'],
              };
              expect(await kept.search(request)).toEqual(await counted.search(request));
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('SqliteSearchIndex ranks a page from the rarer words when that is provably the same page', () => {
  let db: EmbeddedDatabase;
  let cleanup: () => Promise<void>;
  let index: SqliteSearchIndex;

  beforeEach(async () => {
    ({ db, cleanup } = await openDatabase());
    index = new SqliteSearchIndex(db);
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await cleanup();
  });

  const request = (tenantId: string, text: string, first: number): SearchRequest => ({
    tenantId,
    text,
    filter: {},
    sort: 'RELEVANCE',
    first,
    facets: [],
  });

  it('leaves out the matches of a word in every document when a full page of the rare word outscores them', async () => {
    const documents = Array.from({ length: 40 }, (_, i) =>
      upsert('skip', `d${i}`, 1, 'Note', i < 6 ? `common rare body ${i}` : `common body ${i}`),
    );
    await index.apply(documents);
    const pruning = new SqliteSearchIndex(db, { prunedWordMinDocuments: 1 });
    const paths = pagePaths(db);
    const page = await pruning.search(request('skip', 'common rare', 3));
    expect(paths.taken()).toEqual({ pruned: true, full: false });
    expect(page).toEqual(await unpruned(db).search(request('skip', 'common rare', 3)));
    expect(page.hits.map((hit) => hit.documentId).every((id) => Number(id.slice(1)) < 6)).toBe(true);
    expect(page.total).toBe(40);
  });

  it('ranks over every match when a document with only the common word could outscore the page', async () => {
    // "alpha" is in a quarter of the documents, so it adds real weight; "beta" is in four long ones, once each.
    const filler = Array.from({ length: 60 }, (_, i) => `filler${i}`).join(' ');
    const documents = Array.from({ length: 40 }, (_, i) => {
      if (i === 0) return upsert('fallback', 'loud', 1, 'alpha alpha alpha', 'short');
      if (i < 10) return upsert('fallback', `a${i}`, 1, 'Note', `alpha ${filler}`);
      if (i < 14) return upsert('fallback', `b${i}`, 1, 'Note', `beta ${filler}`);
      return upsert('fallback', `o${i}`, 1, 'Note', filler);
    });
    await index.apply(documents);
    const pruning = new SqliteSearchIndex(db, { prunedWordMinDocuments: 1, prunedWordMinShare: 0 });
    const paths = pagePaths(db);
    const page = await pruning.search(request('fallback', 'alpha beta', 3));
    expect(paths.taken()).toEqual({ pruned: true, full: true });
    expect(page.hits[0]?.documentId).toBe('loud');
    expect(page).toEqual(await unpruned(db).search(request('fallback', 'alpha beta', 3)));
  });

  it('never leaves out a common word with synonyms, whose rare synonym can outscore the page', async () => {
    const documents = Array.from({ length: 36 }, (_, i) => {
      if (i === 0) return upsert('synonyms', 'usual', 1, 'usual usual', 'short');
      const body = `common ${Array.from({ length: 40 }, (_, n) => `filler${n}`).join(' ')}`;
      return upsert('synonyms', `d${i}`, 1, 'Note', i < 6 ? `rare ${body}` : body);
    });
    await index.apply(documents);
    await index.replaceSynonyms('synonyms', { equivalents: [{ words: ['common', 'usual'] }], rules: [] });
    const pruning = new SqliteSearchIndex(db, { prunedWordMinDocuments: 1 });
    const page = await pruning.search(request('synonyms', 'rare common', 3));
    expect(page.hits[0]?.documentId).toBe('usual');
    expect(page).toEqual(await unpruned(db).search(request('synonyms', 'rare common', 3)));
  });

  it('keeps no document counts for a tenant whose changes an indexer that does not take a generation applied', async () => {
    const applyUncounted = async (change: DocumentChange) => {
      await index.apply([change]);
      db.connection.prepare('DELETE FROM search_generations WHERE tenant_id = ?').run('old');
    };
    const didYouMean = async () =>
      (await index.search({ ...request('old', 'presure', 5), didYouMean: true })).didYouMean;
    await applyUncounted(upsert('old', 'a', 1, 'Pressure gauge'));
    expect(await didYouMean()).toBe('pressure');
    await applyUncounted(upsert('old', 'b', 1, 'Presure valve'));
    expect(await didYouMean()).toBeUndefined();
  });

  it('gives the same pages, cursors, totals and facets as ranking every match, through writes', async () => {
    const words = ['common', 'often', 'alpha', 'beta', 'gamma'];
    const document = fc.record({
      id: fc.integer({ min: 0, max: 30 }),
      title: fc.array(fc.constantFrom(...words), { maxLength: 3 }),
      // "common" in most documents, as stopwords are, so that pages from the rarer words are often provably right.
      body: fc.array(
        fc.oneof(
          { arbitrary: fc.constant('common'), weight: 6 },
          fc.constantFrom(...words, 'filler', 'padding'),
        ),
        { minLength: 1, maxLength: 12 },
      ),
      status: fc.constantFrom('DRAFT', 'PUBLISHED'),
    });
    const step = fc.oneof(
      fc.record({ write: document }),
      fc.record({ remove: fc.integer({ min: 0, max: 30 }) }),
      fc.record({
        search: fc.record({
          words: fc.uniqueArray(fc.constantFrom(...words), { minLength: 2, maxLength: 4 }),
          // Required and excluded words, and the other sorts, must never take the pruned path's shortcut.
          modifier: fc.constantFrom('', '', '', '+', '-'),
          sort: fc.constantFrom('RELEVANCE', 'RELEVANCE', 'RELEVANCE', 'UPDATED_DESC', 'UPDATED_ASC'),
          first: fc.integer({ min: 0, max: 4 }),
          published: fc.boolean(),
          facets: fc.boolean(),
        }),
      }),
    );
    const taken = { pruned: 0, fellBack: 0 };
    const paths = pagePaths(db);
    let run = 0;
    await fc.assert(
      // The thresholds decide which words are left out: the most frequent ones, or all but the rarest.
      fc.asyncProperty(
        fc.array(document, { minLength: 8, maxLength: 30 }),
        fc.array(step, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(0, 0.25, 0.5),
        async (initial, steps, minDocuments, minShare) => {
          const tenantId = `prop-${run++}`;
          const pruning = new SqliteSearchIndex(db, {
            prunedWordMinDocuments: minDocuments,
            prunedWordMinShare: minShare,
          });
          const everyMatch = unpruned(db);
          let version = 0;
          for (const next of [...initial.map((write) => ({ write })), ...steps]) {
            version += 1;
            if ('write' in next) {
              const { id, title, body, status } = next.write;
              const change = upsert(tenantId, `d${id}`, version, title.join(' ') || 'Note', body.join(' '));
              await index.apply([withFields(change, { status })]);
            } else if ('remove' in next)
              await index.apply([deleteChange(tenantId, `d${next.remove}`, version)]);
            else {
              const { words: chosen, modifier, sort, first, published, facets } = next.search;
              let wanted: SearchRequest = {
                ...request(tenantId, [`${modifier}${chosen[0]}`, ...chosen.slice(1)].join(' '), first),
                sort,
                filter: published ? { status: ['PUBLISHED'] } : {},
                facets: facets ? ['STATUS'] : [],
                highlights: true,
              };
              // The first page and up to two more after its cursor.
              for (let pageNo = 0; pageNo < 3; pageNo += 1) {
                paths.taken();
                const page = await pruning.search(wanted);
                const path = paths.taken();
                if (path.pruned) taken[path.full ? 'fellBack' : 'pruned'] += 1;
                expect(page).toEqual(await everyMatch.search(wanted));
                const last = page.hits.at(-1);
                if (!page.hasNextPage || !last) break;
                wanted = { ...wanted, after: last.sortKey };
              }
            }
          }
        },
      ),
      { numRuns: 60 },
    );
    // Both ways of answering were checked, not only the fallback.
    expect(taken.pruned).toBeGreaterThan(0);
    expect(taken.fellBack).toBeGreaterThan(0);
  });
});

describe('SqliteSearchIndex bounds the work of one search', () => {
  let db: EmbeddedDatabase;
  let index: SqliteSearchIndex;
  let cleanup: () => Promise<void>;

  /** Ordinary English prose, about 100 KB per document: Cranfield's abstracts run together. */
  async function longDocuments(count: number): Promise<DocumentChange[]> {
    const corpus = await readFile(
      new URL('../fixtures/relevance/cranfield/corpus.jsonl', import.meta.url),
      'utf8',
    );
    const prose = corpus
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { body: string }).body)
      .join(' ');
    const size = 100_000;
    return Array.from({ length: count }, (_, i) => {
      const start = (i * 37_000) % (prose.length - size);
      return upsert('t', `long-${i}`, 1, `Long report ${i}`, prose.slice(start, start + size));
    });
  }

  beforeEach(async () => {
    ({ db, cleanup } = await openDatabase());
    index = new SqliteSearchIndex(db);
  });

  afterEach(async () => {
    await index.close();
    await cleanup();
  });

  // Generous for a shared, loaded machine (a search here takes tens of milliseconds alone); a search
  // whose cost grows with body size times term occurrences (a snippet over each whole body, repeated
  // terms kept) took seconds to minutes on these documents.
  const searchBudgetMs = 5000;

  it('answers a question full of repeated common words over long bodies, highlights included, within the budget', async () => {
    // What it protects: node:sqlite is synchronous, so one slow search stalls every tenant of the process.
    await index.apply(await longDocuments(20));
    for (const text of [
      'the '.repeat(124),
      'what is the effect of the pressure on the flow over the wing at the speed of sound in the boundary layer '.repeat(
        4,
      ),
    ]) {
      const started = performance.now();
      const page = await index.search({
        tenantId: 't',
        text,
        filter: {},
        sort: 'RELEVANCE',
        first: 20,
        facets: ['TAGS', 'STATUS'],
        highlights: true,
      });
      const elapsed = performance.now() - started;
      expect(page.hits.length).toBeGreaterThan(0);
      expect(page.hits[0]?.highlights.length).toBeGreaterThan(0);
      expect(elapsed).toBeLessThan(searchBudgetMs);
    }
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type Indexer, startIndexer } from '../../indexer/indexer.ts';
import type { DocumentChange } from '../../server/documents/model.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { createLogger } from '../../server/logger.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';
import { SqliteSearchIndex } from '../../subgraphs/search/adapters/sqlite-search-index.ts';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';

let directory: string;
let db: EmbeddedDatabase;
let indexer: Indexer | undefined;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'quarry-outage-'));
  db = new EmbeddedDatabase(join(directory, 'quarry.db'));
});

afterEach(async () => {
  await indexer?.stop();
  db.close();
  await rm(directory, { recursive: true, force: true });
});

/** The index behind a switch: while down, every apply fails the way an unreachable Elasticsearch would. */
function withOutage(index: SearchIndex) {
  const state = { down: false, failedCalls: 0, appliedChanges: 0 };
  const wrapped: SearchIndex = {
    search: (request) => index.search(request),
    suggest: (tenantId, prefix, first) => index.suggest(tenantId, prefix, first),
    async apply(changes: readonly DocumentChange[]) {
      if (state.down) {
        state.failedCalls += 1;
        throw new Error('connect ECONNREFUSED (injected)');
      }
      state.appliedChanges += changes.length;
      return index.apply(changes);
    },
    close: () => index.close(),
  };
  return { index: wrapped, state };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

it('loses no write made while the index was down, and catches up once it returns', async () => {
  const store = new SqliteDocumentStore(db);
  const search = withOutage(new SqliteSearchIndex(db));
  indexer = startIndexer({
    feed: store,
    deadLetters: store,
    index: search.index,
    logger: createLogger({ level: 'silent' }),
    pollIntervalMs: 10,
    batchSize: 7,
    initialBackoffMs: 10,
    maxBackoffMs: 80,
  });

  await store.create(
    't',
    { title: 'Before outage', body: '', tags: [], author: null, status: 'DRAFT' },
    'before',
  );
  await waitFor(async () => (await store.oldestPendingAt()) === null, 10_000);

  search.state.down = true;
  for (let i = 0; i < 30; i += 1) {
    await store.create(
      't',
      { title: `Outage write ${i}`, body: '', tags: [], author: null, status: 'DRAFT' },
      `w${i}`,
    );
  }
  await store.update('t', 'before', { title: 'Renamed during outage' });
  await store.delete('t', 'w0');
  await waitFor(async () => search.state.failedCalls >= 3, 10_000);
  // Nothing was acknowledged while the index refused: every change still waits in the outbox.
  expect((await store.pull(1000)).length).toBe(32);

  search.state.down = false;
  await waitFor(async () => (await store.oldestPendingAt()) === null, 15_000);
  const page = await search.index.search({
    tenantId: 't',
    text: 'outage',
    filter: {},
    sort: 'UPDATED_ASC',
    first: 100,
    facets: [],
  });
  expect(page.hits.map((hit) => hit.documentId).sort()).toEqual(
    ['before', ...Array.from({ length: 29 }, (_, i) => `w${i + 1}`)].sort(),
  );
});

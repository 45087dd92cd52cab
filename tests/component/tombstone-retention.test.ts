import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type Indexer, startIndexer } from '../../indexer/indexer.ts';
import { startTombstonePruner, type TombstonePruner } from '../../indexer/tombstone-pruner.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { createLogger } from '../../server/logger.ts';
import { noIndexerEvents } from '../../server/observability/events.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';
import { SqliteSearchIndex } from '../../subgraphs/search/adapters/sqlite-search-index.ts';

const day = 86_400_000;
const retentionMs = 7 * day;

let directory: string;
let db: EmbeddedDatabase;
let store: SqliteDocumentStore;
let index: SqliteSearchIndex;
let indexer: Indexer | undefined;
let pruner: TombstonePruner | undefined;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'quarry-tombstones-'));
  db = new EmbeddedDatabase(join(directory, 'quarry.db'));
  store = new SqliteDocumentStore(db);
  index = new SqliteSearchIndex(db);
});

afterEach(async () => {
  await pruner?.stop();
  await indexer?.stop();
  db.close();
  await rm(directory, { recursive: true, force: true });
});

/**
 * A document written twice and deleted; its second write was parked as a dead letter, the rest applied.
 * `daysLater` days on, tombstones are pruned and an operator retries the dead letter. The indexer and the
 * pruner read the same shifted clock.
 */
async function replayAfter(daysLater: number) {
  await store.create(
    'acme',
    { title: 'Runbook', body: '', tags: [], author: null, status: 'PUBLISHED' },
    'doc',
  );
  await store.update('acme', 'doc', { title: 'Runbook edited' });
  await store.delete('acme', 'doc');
  const written = await store.pull(10);
  const oldWrite = written.find((change) => change.version === 2);
  if (!oldWrite) throw new Error('no second write in the outbox');
  const applied = written.filter((change) => change !== oldWrite);
  await index.apply(applied);
  await store.acknowledge(applied);
  await store.park([{ change: oldWrite, error: '400 mapper_parsing_exception', attempts: 1 }]);

  const now = () => Date.now() + daysLater * day;
  const logger = createLogger({ level: 'silent' });
  const pruned = { index: 0, store: 0 };
  pruner = startTombstonePruner({
    store,
    index,
    retentionMs,
    intervalMs: day,
    batchSize: 10,
    logger,
    now,
    events: {
      ...noIndexerEvents,
      tombstonesPruned: (side, count) => {
        pruned[side === 'documents' ? 'store' : 'index'] += count;
      },
    },
  });
  // The round the pruner starts with, or a later one: either has seen every tombstone by now.
  await pruner.pruneNow();
  await store.retryDeadLetter(oldWrite.sequence);
  indexer = startIndexer({
    feed: store,
    deadLetters: store,
    index,
    logger,
    tombstoneRetentionMs: retentionMs,
    now,
    pollIntervalMs: day,
  });
  await indexer.drain();
  const hits = await index.search({
    tenantId: 'acme',
    text: 'runbook',
    filter: {},
    sort: 'RELEVANCE',
    first: 10,
    facets: [],
  });
  return { pruned, hits: hits.hits.map((hit) => hit.documentId) };
}

it('within the retention the tombstones stay, and a retried older write is dropped by version', async () => {
  const { pruned, hits } = await replayAfter(6);
  expect(pruned).toEqual({ index: 0, store: 0 });
  expect(hits).toEqual([]);
  expect(await store.countDeadLetters()).toBe(0);
});

it('past the retention the tombstones go, and a retried write older than them is parked again, not resurrected', async () => {
  const { pruned, hits } = await replayAfter(8);
  expect(pruned).toEqual({ index: 1, store: 1 });
  expect(hits).toEqual([]);
  const [letter] = await store.listDeadLetters(10);
  expect(letter).toMatchObject({ change: { documentId: 'doc', version: 2 } });
  expect(letter?.error).toMatch(/TOMBSTONE_RETENTION/);
});

it('after pruning, the id created again starts at version 1 and is searchable', async () => {
  await replayAfter(8);
  await indexer?.stop();
  indexer = undefined;
  const again = await store.create(
    'acme',
    { title: 'Runbook reborn', body: '', tags: [], author: null, status: 'PUBLISHED' },
    'doc',
  );
  expect(again.version).toBe(1);
  const changes = await store.pull(10);
  await index.apply(changes);
  const page = await index.search({
    tenantId: 'acme',
    text: 'reborn',
    filter: {},
    sort: 'RELEVANCE',
    first: 10,
    facets: [],
  });
  expect(page.hits.map((hit) => hit.documentId)).toEqual(['doc']);
});

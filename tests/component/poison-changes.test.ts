import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type Indexer, startIndexer } from '../../indexer/indexer.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { createLogger } from '../../server/logger.ts';
import { type IndexerEvents, noIndexerEvents } from '../../server/observability/events.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';
import type { NewDocument } from '../../subgraphs/documents/document-store.ts';
import { ElasticsearchSearchIndex } from '../../subgraphs/search/adapters/elasticsearch-search-index.ts';
import { elasticsearchCluster, type Refusal } from '../helpers/elasticsearch-mock.ts';

let directory: string;
let db: EmbeddedDatabase;
let store: SqliteDocumentStore;
let indexer: Indexer | undefined;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'quarry-poison-'));
  db = new EmbeddedDatabase(join(directory, 'quarry.db'));
  store = new SqliteDocumentStore(db);
});

afterEach(async () => {
  await indexer?.stop();
  indexer = undefined;
  db.close();
  await rm(directory, { recursive: true, force: true });
});

const note = (title: string): NewDocument => ({
  title,
  body: '',
  tags: [],
  author: null,
  status: 'PUBLISHED',
});

/**
 * The outbox in SQLite, the index on a mock Elasticsearch that refuses what `refusal` names (the
 * documents with `title`, or every one), and an
 * indexer over both. Its loop takes the first batch and then backs off for far longer than a test, so
 * every later batch is one the test starts with `drain`.
 */
function indexerOver(refusal: { current?: Refusal }, title?: string) {
  const cluster = elasticsearchCluster({
    refuse: (source) => (title === undefined || source.title === title ? refusal.current : undefined),
  });
  const parked: Parameters<IndexerEvents['changesParked']>[] = [];
  let retried: () => void = () => {};
  const firstRetry = new Promise<void>((resolve) => {
    retried = resolve;
  });
  indexer = startIndexer({
    feed: store,
    deadLetters: store,
    index: new ElasticsearchSearchIndex({ client: cluster.client, names: cluster.names }),
    logger: createLogger({ level: 'silent' }),
    events: {
      ...noIndexerEvents,
      changesParked: (...args) => parked.push(args),
      changesRetrying: () => retried(),
    },
    maxAttempts: 3,
    pollIntervalMs: 3_600_000,
    initialBackoffMs: 3_600_000,
  });
  const indexed = () =>
    cluster
      .stored()
      .filter((source) => !source.deleted)
      .map((source) => `${source.tenant_id}/${source.doc_id}: ${source.title}`)
      .sort();
  return { indexer, indexed, parked, firstRetry };
}

it("parks a change Elasticsearch refuses, indexes the rest of its batch and the other tenant's, and re-applies it on retry", async () => {
  await store.create('acme', note('Poison'), 'bad');
  await store.create('globex', note('Quarterly report'), 'report');
  await store.create('acme', note('Runbook'), 'runbook');
  const refusal: { current?: Refusal } = { current: { status: 400, type: 'mapper_parsing_exception' } };
  const { indexer, indexed, parked } = indexerOver(refusal, 'Poison');
  await indexer.drain();

  expect(indexed()).toEqual(['acme/runbook: Runbook', 'globex/report: Quarterly report']);
  expect(await store.oldestPendingAt()).toBeNull();
  const [letter, ...others] = await store.listDeadLetters(10);
  expect(others).toEqual([]);
  expect(letter).toMatchObject({
    error: '400 mapper_parsing_exception: mapper_parsing_exception',
    attempts: 1,
    change: { tenantId: 'acme', documentId: 'bad', version: 1 },
  });
  expect(parked).toEqual([['refused', 1]]);

  // The mapping is fixed; the operator retries the dead letter.
  refusal.current = undefined;
  expect(await store.retryDeadLetter(letter?.id ?? '')).toBe(true);
  await indexer.drain();
  expect(indexed()).toContain('acme/bad: Poison');
  expect(await store.countDeadLetters()).toBe(0);
});

it('never lets a retried dead letter overwrite a newer version of its document', async () => {
  await store.create('acme', note('Poison'), 'doc');
  const refusal: { current?: Refusal } = { current: { status: 400, type: 'mapper_parsing_exception' } };
  const { indexer, indexed } = indexerOver(refusal, 'Poison');
  await indexer.drain();
  const [letter] = await store.listDeadLetters(10);

  await store.update('acme', 'doc', { title: 'Repaired' });
  await indexer.drain();
  expect(indexed()).toEqual(['acme/doc: Repaired']);

  refusal.current = undefined;
  await store.retryDeadLetter(letter?.id ?? '');
  await indexer.drain();
  expect(indexed()).toEqual(['acme/doc: Repaired']);
  expect(await store.oldestPendingAt()).toBeNull();
  expect(await store.countDeadLetters()).toBe(0);
});

it('tries a change that keeps failing with a 429 again, and parks it after the last attempt while the rest goes on', async () => {
  await store.create('acme', note('Overloaded'), 'busy');
  await store.create('globex', note('First'), 'first');
  const refusal: { current?: Refusal } = {
    current: { status: 429, type: 'es_rejected_execution_exception' },
  };
  // The loop's first batch is attempt 1; each drain below is one more, beside a change that applies.
  // (Alone in its batch, the change is a single write, and a 429 to that fails the call: a busy cluster.)
  const { indexer, indexed, parked, firstRetry } = indexerOver(refusal, 'Overloaded');
  await firstRetry;
  expect(indexed()).toEqual(['globex/first: First']);
  await store.create('globex', note('Second'), 'second');
  await indexer.drain();
  expect(indexed()).toEqual(['globex/first: First', 'globex/second: Second']);
  expect(await store.countDeadLetters()).toBe(0);
  expect((await store.pull(10)).map((change) => change.documentId)).toEqual(['busy']);

  await store.create('globex', note('Third'), 'third');
  await indexer.drain();
  expect(indexed()).toEqual(['globex/first: First', 'globex/second: Second', 'globex/third: Third']);
  const [letter] = await store.listDeadLetters(10);
  expect(letter).toMatchObject({ attempts: 3, change: { documentId: 'busy' } });
  expect(letter?.error).toMatch(/429 es_rejected_execution_exception/);
  expect(parked).toEqual([['attempts', 1]]);
  expect(await store.oldestPendingAt()).toBeNull();
});

it('parks nothing while the cluster answers every change of a batch with a 429, and applies them all once it takes writes', async () => {
  await store.create('acme', note('One'), 'one');
  await store.create('globex', note('Two'), 'two');
  const refusal: { current?: Refusal } = {
    current: { status: 429, type: 'es_rejected_execution_exception' },
  };
  const { indexer, indexed, parked, firstRetry } = indexerOver(refusal);
  await firstRetry;
  // More batches than the attempts a change gets before it is parked.
  for (let batch = 0; batch < 4; batch++) await indexer.drain();
  expect(indexed()).toEqual([]);
  expect(await store.countDeadLetters()).toBe(0);
  expect(parked).toEqual([]);

  refusal.current = undefined;
  await indexer.drain();
  expect(indexed()).toEqual(['acme/one: One', 'globex/two: Two']);
  expect(await store.oldestPendingAt()).toBeNull();
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';
import type { NewDocument } from '../../subgraphs/documents/document-store.ts';
import { SqliteSearchIndex } from '../../subgraphs/search/adapters/sqlite-search-index.ts';

let directory: string;
let db: EmbeddedDatabase;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'quarry-recreated-'));
  db = new EmbeddedDatabase(join(directory, 'quarry.db'));
});

afterEach(async () => {
  db.close();
  await rm(directory, { recursive: true, force: true });
});

it('makes a document created again under a deleted id searchable again', async () => {
  const store = new SqliteDocumentStore(db);
  const index = new SqliteSearchIndex(db);
  /** What the indexer does each round: apply what the outbox holds, then acknowledge it. */
  const sync = async () => {
    const changes = await store.pull(100);
    await index.apply(changes);
    await store.acknowledge(changes);
  };
  const find = async (text: string) =>
    (
      await index.search({ tenantId: 'acme', text, filter: {}, sort: 'RELEVANCE', first: 10, facets: [] })
    ).hits.map((hit) => hit.documentId);
  const runbook = (title: string): NewDocument => ({
    title,
    body: 'Restart the gateway',
    tags: ['ops'],
    author: null,
    status: 'PUBLISHED',
  });

  // An import names its ids, so running it again after a delete recreates the same one.
  await store.create('acme', runbook('Runbook'), 'runbook');
  await sync();
  await store.delete('acme', 'runbook');
  await sync();
  expect(await find('restart')).toEqual([]);

  await store.create('acme', runbook('Runbook again'), 'runbook');
  await sync();
  expect(await find('restart')).toEqual(['runbook']);
});

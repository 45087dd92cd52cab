import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';
import { runCli, useDataDir } from '../helpers/cli-process.ts';

// Each run starts Node and opens the store: seconds on a busy 2-core machine, and a test runs the CLI up to five times.
vi.setConfig({ testTimeout: 120_000 });
const { MONGO_URL: _mongo, ELASTICSEARCH_URL: _elasticsearch, ...embeddedEnvironment } = process.env;
const dataDir = useDataDir('quarry-dead-letters');

const deadLetters = (...args: string[]) =>
  // The embedded store, whatever backends the surrounding environment names: this test reads the SQLite file.
  runCli('dead-letters.ts', args, { ...embeddedEnvironment, DATA_DIR: dataDir(), NODE_ENV: 'development' });

/** The store the CLI opens, for the length of `work`. */
async function withStore<T>(work: (store: SqliteDocumentStore) => Promise<T>): Promise<T> {
  const db = new EmbeddedDatabase(join(dataDir(), 'quarry.db'));
  try {
    return await work(new SqliteDocumentStore(db));
  } finally {
    db.close();
  }
}

it('lists parked changes, retries one into the outbox, drops another, and says when an id is not parked', async () => {
  const [retried, dropped] = await withStore(async (store) => {
    for (const id of ['refused', 'stuck', 'fine'])
      await store.create('acme', { title: id, body: '', tags: [], author: null, status: 'DRAFT' }, id);
    const changes = await store.pull(10);
    const parked = changes.filter((change) => change.documentId !== 'fine');
    await store.park(
      parked.map((change) => ({ change, error: '400 mapper_parsing_exception: bad', attempts: 1 })),
    );
    await store.acknowledge(changes.filter((change) => change.documentId === 'fine'));
    return parked.map((change) => change.sequence);
  });

  const listed = await deadLetters('list');
  expect(listed.code).toBe(0);
  const letters = listed.stdout
    .trim()
    .split('\n')
    .map((text) => JSON.parse(text));
  expect(letters).toEqual([
    expect.objectContaining({ id: retried, tenant: 'acme', document: 'refused', version: 1, attempts: 1 }),
    expect.objectContaining({ id: dropped, document: 'stuck', error: '400 mapper_parsing_exception: bad' }),
  ]);
  expect(listed.stderr).toContain('2 of 2 dead letters');

  expect((await deadLetters('retry', retried ?? '')).code).toBe(0);
  expect((await deadLetters('drop', dropped ?? '')).code).toBe(0);
  const again = await deadLetters('drop', dropped ?? '');
  expect(again.code).toBe(1);
  expect(again.stderr).toContain(`no dead letter ${dropped}`);

  await withStore(async (store) => {
    expect(await store.countDeadLetters()).toBe(0);
    expect((await store.pull(10)).map((change) => [change.documentId, change.version])).toEqual([
      ['refused', 1],
    ]);
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';

const run = promisify(execFile);
// Each run starts Node and opens the store: seconds on a busy 2-core machine, and a test runs the CLI up to five times.
vi.setConfig({ testTimeout: 120_000 });
/** Killed past this, so no CLI outlives its test. */
const cliTimeoutMs = 60_000;
const { MONGO_URL: _mongo, ELASTICSEARCH_URL: _elasticsearch, ...embeddedEnvironment } = process.env;
let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'quarry-dead-letters-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function deadLetters(...args: string[]) {
  return run(process.execPath, ['cli/dead-letters.ts', ...args], {
    // The embedded store, whatever backends the surrounding environment names: this test reads the SQLite file.
    env: { ...embeddedEnvironment, DATA_DIR: dataDir, NODE_ENV: 'development' },
    timeout: cliTimeoutMs,
    killSignal: 'SIGKILL',
  }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

/** The store the CLI opens, for the length of `work`. */
async function withStore<T>(work: (store: SqliteDocumentStore) => Promise<T>): Promise<T> {
  const db = new EmbeddedDatabase(join(dataDir, 'quarry.db'));
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

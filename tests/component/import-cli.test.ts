import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';

const run = promisify(execFile);
let dataDir: string;
const { MONGO_URL: _mongo, ELASTICSEARCH_URL: _elasticsearch, ...embeddedEnvironment } = process.env;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'quarry-import-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const lines = [
  JSON.stringify({
    id: 'runbook',
    title: 'Runbook',
    body: 'Restart the gateway',
    tags: ['ops'],
    status: 'PUBLISHED',
  }),
  '{"title": "Broken JSON"',
  JSON.stringify({ title: 'No id, derived one', body: 'Imported twice, stored once' }),
  '',
  JSON.stringify({ id: 'bad-status', title: 'Bad status', status: 'LIVE' }),
  JSON.stringify({ id: 'empty-title', title: '   ' }),
  JSON.stringify({ id: 'extra', title: 'Typo field', tittle: 'x' }),
  JSON.stringify({ id: 'last', title: 'Last line', author: 'ada' }),
];

async function importFile(file: string) {
  return run(process.execPath, ['cli/import.ts', file, '--tenant', 'acme'], {
    // The embedded store, whatever backends the surrounding environment names: this test reads the SQLite file.
    env: { ...embeddedEnvironment, DATA_DIR: dataDir, NODE_ENV: 'development' },
  }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

it('reports bad lines by number, writes the others, and writes them only once when run twice', async () => {
  const file = join(dataDir, 'documents.jsonl');
  await writeFile(file, `${lines.join('\n')}\n`);

  const first = await importFile(file);
  expect(first.code).toBe(2);
  expect(first.stderr).toContain(`${file}:2: `);
  expect(first.stderr).toMatch(new RegExp(`${file}:5: status: `));
  expect(first.stderr).toMatch(new RegExp(`${file}:6: title: must not be empty`));
  expect(first.stderr).toMatch(new RegExp(`${file}:7: .*tittle`));
  expect(first.stderr).toContain('imported 3, already present 0, bad lines 4 (not written)');
  for (const good of [1, 3, 4, 8]) expect(first.stderr).not.toContain(`${file}:${good}:`);

  const second = await importFile(file);
  expect(second.stderr).toContain('imported 0, already present 3, bad lines 4 (not written)');

  const db = new EmbeddedDatabase(join(dataDir, 'quarry.db'));
  try {
    const store = new SqliteDocumentStore(db);
    expect(await store.count('acme')).toBe(3);
    const [runbook, bad] = await store.findByIds('acme', ['runbook', 'bad-status']);
    expect(runbook).toMatchObject({ title: 'Runbook', tags: ['ops'], status: 'PUBLISHED', version: 1 });
    expect(bad).toBeNull();
    // Each written document went through the outbox once, so the index gets it once.
    expect((await store.pull(100)).length).toBe(3);
  } finally {
    db.close();
  }
});

it('reads a file that starts with a UTF-8 byte order mark', async () => {
  const file = join(dataDir, 'from-windows.jsonl');
  await writeFile(file, `\uFEFF${JSON.stringify({ id: 'bom', title: 'Saved by Notepad' })}\r\n`);
  const result = await importFile(file);
  expect(result.stderr).toContain('imported 1, already present 0, bad lines 0 (not written)');
  expect(result.code).toBe(0);
});

it('refuses an id longer than 200 bytes, which Elasticsearch could not index, however few characters it has', async () => {
  const file = join(dataDir, 'long-ids.jsonl');
  const lines = [
    { id: '日'.repeat(67), title: '201 bytes in 67 characters' },
    { id: '日'.repeat(66), title: '198 bytes' },
  ];
  await writeFile(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  const result = await importFile(file);
  expect(result.stderr).toMatch(new RegExp(`${file}:1: id: must be at most 200 bytes in UTF-8`));
  expect(result.stderr).toContain('imported 1, already present 0, bad lines 1 (not written)');
});

it('refuses a --tenant that no token could carry, and writes nothing', async () => {
  const file = join(dataDir, 'one.jsonl');
  await writeFile(file, `${JSON.stringify({ id: 'a', title: 'Runbook' })}\n`);
  const result = await run(process.execPath, ['cli/import.ts', file, '--tenant', 'acme corp'], {
    env: { ...embeddedEnvironment, DATA_DIR: dataDir, NODE_ENV: 'development' },
  }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => error,
  );
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("argument 'acme corp' is invalid");
  const token = await run(process.execPath, ['cli/token.ts', '--tenant', 'acme corp'], {
    env: { ...embeddedEnvironment, DATA_DIR: dataDir },
  }).then(
    (ok) => ({ code: 0, stdout: ok.stdout }),
    (error: { code: number; stdout: string }) => error,
  );
  expect(token).toMatchObject({ code: 1, stdout: '' });
});

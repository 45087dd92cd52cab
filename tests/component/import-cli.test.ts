import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it, onTestFinished, vi } from 'vitest';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';

const run = promisify(execFile);
// A test starts the CLI up to four times, and one start of Node with the stores takes seconds on a busy 2-core machine.
vi.setConfig({ testTimeout: 120_000 });
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

const importEnvironment = () => ({ ...embeddedEnvironment, DATA_DIR: dataDir, NODE_ENV: 'development' });

async function importFile(file: string, ...flags: string[]) {
  return run(process.execPath, ['cli/import.ts', file, '--tenant', 'acme', ...flags], {
    // The embedded store, whatever backends the surrounding environment names: this test reads the SQLite file.
    env: importEnvironment(),
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
  expect(first.stderr).toContain('imported 3, updated 0, already present 0, bad lines 4 (not written)');
  for (const good of [1, 3, 4, 8]) expect(first.stderr).not.toContain(`${file}:${good}:`);

  const second = await importFile(file);
  expect(second.stderr).toContain('imported 0, updated 0, already present 3, bad lines 4 (not written)');

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
  expect(result.stderr).toContain('imported 1, updated 0, already present 0, bad lines 0 (not written)');
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
  expect(result.stderr).toContain('imported 1, updated 0, already present 0, bad lines 1 (not written)');
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

/**
 * Runs `cat | node cli/import.ts <argument>`: the import's standard input is
 * an operating-system pipe, fed here after the processes started.
 */
async function importFromPipe(fileArgument: string, input: string, ...flags: string[]) {
  const child = spawn(
    'sh',
    ['-c', 'cat | "$@"', 'sh', process.execPath, 'cli/import.ts', fileArgument, '--tenant', 'acme', ...flags],
    {
      env: importEnvironment(),
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so the whole pipeline can be killed.
      detached: true,
    },
  );
  // A failed or timed-out test must not leave the pipeline running.
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit');
  // In two writes, so the import reads a stream that arrives over time, as from `docker compose exec -T`.
  child.stdin.write(input.slice(0, input.length / 2));
  child.stdin.end(input.slice(input.length / 2));
  const [code] = await exited;
  return { code: code as number, stderr };
}

async function storedDocuments(ids: string[]) {
  const db = new EmbeddedDatabase(join(dataDir, 'quarry.db'));
  try {
    const store = new SqliteDocumentStore(db);
    return { count: await store.count('acme'), documents: await store.findByIds('acme', ids) };
  } finally {
    db.close();
  }
}

const pipedLines = Array.from({ length: 40 }, (_, position) =>
  JSON.stringify({ id: `piped-${position}`, title: `Piped ${position}` }),
);

it.each(['-', '/dev/stdin'])(
  'imports every line read from a pipe given as %s, with a progress count',
  async (argument) => {
    const result = await importFromPipe(argument, `${pipedLines.join('\n')}\n`);
    expect(result.stderr).toContain('import: 40 lines read');
    expect(result.stderr).toContain('imported 40, updated 0, already present 0, bad lines 0 (not written)');
    expect(result.code).toBe(0);
    const stored = await storedDocuments(['piped-0', 'piped-39']);
    expect(stored.count).toBe(40);
    expect(stored.documents.map((document) => document?.title)).toEqual(['Piped 0', 'Piped 39']);
  },
);

it('names bad lines read from standard input as stdin:<line>', async () => {
  const result = await importFromPipe('-', `${pipedLines[0]}\n{"title": \n`);
  expect(result.stderr).toContain('stdin:2: ');
  expect(result.code).toBe(2);
});

it('with --upsert writes a new version of a changed document and leaves unchanged ones alone', async () => {
  const file = join(dataDir, 'catalogue.jsonl');
  const write = (documents: object[]) =>
    writeFile(file, `${documents.map((document) => JSON.stringify(document)).join('\n')}\n`);
  await write([
    { id: 'changes', title: 'Runbook', body: 'Restart the gateway', status: 'PUBLISHED' },
    { id: 'stays', title: 'Glossary', tags: ['ops'] },
  ]);
  expect((await importFile(file)).stderr).toContain('imported 2, updated 0');

  await write([
    { id: 'changes', title: 'Runbook', body: 'Drain, then restart the gateway', status: 'PUBLISHED' },
    { id: 'stays', title: 'Glossary', tags: ['ops'] },
  ]);
  // Without the option a changed document is left as it is.
  expect((await importFile(file)).stderr).toContain('imported 0, updated 0, already present 2, bad lines 0');
  expect((await storedDocuments(['changes'])).documents[0]).toMatchObject({
    version: 1,
    body: 'Restart the gateway',
  });

  const upserted = await importFile(file, '--upsert');
  expect(upserted.stderr).toContain('imported 0, updated 1, already present 1, bad lines 0 (not written)');
  expect(upserted.code).toBe(0);
  const { documents } = await storedDocuments(['changes', 'stays']);
  expect(documents[0]).toMatchObject({ version: 2, body: 'Drain, then restart the gateway' });
  expect(documents[1]).toMatchObject({ version: 1, tags: ['ops'] });

  // Running it again finds nothing to change.
  expect((await importFile(file, '--upsert')).stderr).toContain('imported 0, updated 0, already present 2');
});

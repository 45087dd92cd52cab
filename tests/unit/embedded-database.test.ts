import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, expect, it } from 'vitest';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { StartupError } from '../../server/startup-error.ts';

const folder = mkdtempSync(join(tmpdir(), 'quarry-embedded-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

it('reports a full disk as such, not as the failed second rollback it used to cause', () => {
  const database = new EmbeddedDatabase(join(folder, 'full.db'));
  database.connection.exec('CREATE TABLE t (v BLOB)');
  // A database of at most 20 pages is a disk that fills after a few rows.
  database.connection.exec('PRAGMA max_page_count = 20');
  const fill = () =>
    database.transaction(() => {
      for (let row = 0; row < 100; row++)
        database.statement('INSERT INTO t VALUES (?)').run(Buffer.alloc(8000));
    });
  expect(fill).toThrow('database or disk is full');
  expect(database.connection.isTransaction).toBe(false);
  // Nothing of the failed transaction stays, and the database takes the next one.
  expect(database.statement('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
  database.transaction(() => database.statement('INSERT INTO t VALUES (?)').run(Buffer.alloc(10)));
  database.close();
});

it('waits for a lock held by another process opening the same file, instead of failing at once', async () => {
  const path = join(folder, 'shared.db');
  // Well under the 5 s busy timeout: the other process (a thread here) is still setting the file up.
  const lockHeldMs = 200;
  const holder = new Worker(
    `const { DatabaseSync } = require('node:sqlite');
    const { parentPort, workerData } = require('node:worker_threads');
    const database = new DatabaseSync(workerData.path);
    database.exec('BEGIN EXCLUSIVE; CREATE TABLE t (v)');
    parentPort.postMessage('locked');
    setTimeout(() => { database.exec('COMMIT'); database.close(); }, workerData.lockHeldMs);`,
    { eval: true, workerData: { path, lockHeldMs } },
  );
  await once(holder, 'message');
  // Switching to WAL needs the lock: with no busy timeout yet, this threw "database is locked".
  const database = new EmbeddedDatabase(path);
  expect(database.connection.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
  database.close();
  await once(holder, 'exit');
});

it('names the database file when it cannot be opened', () => {
  const notAFolder = join(folder, 'file');
  writeFileSync(notAFolder, '');
  const path = join(notAFolder, 'quarry.db');
  expect(() => new EmbeddedDatabase(path)).toThrow(StartupError);
  expect(() => new EmbeddedDatabase(path)).toThrow(`Cannot open the database ${path} (DATA_DIR)`);
});

it('cuts the write-ahead log back to its limit once a checkpoint has emptied it', () => {
  const path = join(folder, 'wal.db');
  const limit = 256 * 1024;
  const database = new EmbeddedDatabase(path, { walSizeLimitBytes: limit });
  database.connection.exec('CREATE TABLE t (v BLOB)');
  for (let batch = 0; batch < 20; batch++)
    database.transaction(() => {
      for (let row = 0; row < 50; row++)
        database.statement('INSERT INTO t VALUES (?)').run(Buffer.alloc(4000));
    });
  database.connection.exec('PRAGMA wal_checkpoint(PASSIVE)');
  // The log is reset, and so cut back, by the first write after the checkpoint.
  database.transaction(() => database.statement('DELETE FROM t WHERE rowid = 1').run());
  const { size } = statSync(`${path}-wal`);
  expect(size).toBeLessThanOrEqual(limit);
  database.close();
});

import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

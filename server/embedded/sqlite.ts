import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { StartupError } from '../startup-error.ts';

/**
 * The embedded database: one SQLite file shared by the documents store, the
 * outbox and the search index, so that a write and its outbox entry commit
 * together. WAL lets readers run while the indexer writes.
 */
export class EmbeddedDatabase {
  readonly connection: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  /**
   * `readOnly` opens a reader of an existing database (the search workers): it can never write.
   * `walSizeLimitBytes`: what the write-ahead log is cut back to each time a checkpoint empties it;
   * without it the file keeps the size of its largest burst for good.
   */
  constructor(
    path: string,
    {
      readOnly = false,
      walSizeLimitBytes = 64 * 1024 * 1024,
    }: { readOnly?: boolean; walSizeLimitBytes?: number } = {},
  ) {
    if (readOnly) {
      this.connection = new DatabaseSync(path, { readOnly: true });
      this.connection.exec('PRAGMA busy_timeout = 5000;');
      return;
    }
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.connection = new DatabaseSync(path);
    } catch (error) {
      // SQLite's own message ("unable to open database file") names neither the file nor DATA_DIR.
      throw new StartupError(`Cannot open the database ${path} (DATA_DIR): ${(error as Error).message}`);
    }
    // The busy timeout first: switching a new file to WAL takes a lock that another process starting
    // beside this one may hold.
    this.connection.exec(`
      PRAGMA busy_timeout = 5000;
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA journal_size_limit = ${walSizeLimitBytes};
      PRAGMA foreign_keys = ON;
    `);
  }

  /** Prepared once per SQL text; the set of texts is bounded by the code (and the tenants, for search). */
  statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.connection.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `work` in one IMMEDIATE transaction: it takes the write lock up front, so it never fails half-way on a lock upgrade. */
  transaction<T>(work: () => T): T {
    this.connection.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.connection.exec('COMMIT');
      return result;
    } catch (error) {
      // After some errors (a full disk, I/O) SQLite has already rolled back; a second ROLLBACK would fail
      // with "no transaction is active" and replace the error that says what went wrong.
      if (this.connection.isTransaction) this.connection.exec('ROLLBACK');
      throw error;
    }
  }

  /** Runs `work` in one read transaction: its statements all see the database as of the first one. */
  read<T>(work: () => T): T {
    this.connection.exec('BEGIN');
    try {
      return work();
    } finally {
      if (this.connection.isTransaction) this.connection.exec('COMMIT');
    }
  }

  close() {
    this.#statements.clear();
    if (this.connection.isOpen) this.connection.close();
  }
}

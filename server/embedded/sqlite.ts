import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/**
 * The embedded database: one SQLite file shared by the documents store, the
 * outbox and the search index, so that a write and its outbox entry commit
 * together. WAL lets readers run while the indexer writes.
 */
export class EmbeddedDatabase {
  readonly connection: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  /** `readOnly` opens a reader of an existing database (the search workers): it can never write. */
  constructor(path: string, { readOnly = false }: { readOnly?: boolean } = {}) {
    if (readOnly) {
      this.connection = new DatabaseSync(path, { readOnly: true });
      this.connection.exec('PRAGMA busy_timeout = 5000;');
      return;
    }
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.connection = new DatabaseSync(path);
    this.connection.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
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
      this.connection.exec('ROLLBACK');
      throw error;
    }
  }

  close() {
    this.#statements.clear();
    if (this.connection.isOpen) this.connection.close();
  }
}

import { randomUUID } from 'node:crypto';
import type {
  DeadLetter,
  DeadLetterStore,
  DocumentChange,
  DocumentRecord,
  DocumentStatus,
  TombstonePruning,
} from '../../../server/documents/model.ts';
import { type PartitionScope, partitionKeyOf } from '../../../server/documents/partitions.ts';
import type { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import type { ReadOptions } from '../../../server/read-options.ts';
import type { TenantErasure } from '../../../server/tenants/erasure.ts';
import {
  checkQuota,
  DocumentExistsError,
  DocumentNotFoundError,
  type DocumentPatch,
  type DocumentScan,
  type DocumentStore,
  IdempotencyKeyReusedError,
  type IdempotentWrite,
  type NewDocument,
  type ScanPosition,
  storedBytes,
  type TenantUsage,
  VersionConflictError,
  type WriteOptions,
} from '../document-store.ts';

interface DocumentRow {
  tenant_id: string;
  id: string;
  title: string;
  body: string;
  tags: string;
  author: string | null;
  status: string;
  version: number;
  created_at: string;
  updated_at: string;
}

interface OutboxRow {
  sequence: number;
  tenant_id: string;
  document_id: string;
  version: number;
  operation: 'upsert' | 'delete';
  payload: string | null;
  committed_at: string;
}

const schema = `
  CREATE TABLE IF NOT EXISTS documents (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL,
    author TEXT,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS documents_by_updated ON documents (tenant_id, updated_at);
  CREATE TABLE IF NOT EXISTS document_outbox (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('upsert', 'delete')),
    payload TEXT,
    committed_at TEXT NOT NULL
  );
  -- The last version of each deleted document, so that creating its id again continues after it.
  CREATE TABLE IF NOT EXISTS document_tombstones (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
  ) WITHOUT ROWID;
  -- Outbox entries the indexer gave up on, under the outbox sequence they had.
  CREATE TABLE IF NOT EXISTS document_dead_letters (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    operation TEXT NOT NULL,
    payload TEXT,
    committed_at TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    parked_at TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS document_dead_letters_by_parked ON document_dead_letters (parked_at, id);
  -- Clients' idempotency keys, each with its write's outcome, written in that write's transaction.
  CREATE TABLE IF NOT EXISTS idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idempotency_keys_by_expiry ON idempotency_keys (expires_at);
`;

/**
 * Tombstones from before pruning existed have no deletion time: they count as deleted now, so they are
 * kept one whole retention from the upgrade.
 */
const tombstoneTimeMigration = `
  ALTER TABLE document_tombstones ADD COLUMN deleted_at TEXT;
  UPDATE document_tombstones SET deleted_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
`;

/** Live documents and their bytes per tenant, kept by every write's own transaction. */
const usageSchema = `
  CREATE TABLE tenant_usage (
    tenant_id TEXT PRIMARY KEY,
    documents INTEGER NOT NULL,
    bytes INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO tenant_usage (tenant_id, documents, bytes)
    SELECT tenant_id, count(*), sum(length(CAST(title AS BLOB)) + length(CAST(body AS BLOB))
      + length(CAST(tags AS BLOB)) + coalesce(length(CAST(author AS BLOB)), 0))
    FROM documents GROUP BY tenant_id;
`;

/** Gives an outbox made before partitions existed its key column; the entries already in it get key 0. */
function addPartitionKeys(db: EmbeddedDatabase) {
  const columns = db.connection.prepare('PRAGMA table_info(document_outbox)').all() as { name: string }[];
  if (!columns.some((column) => column.name === 'partition_key'))
    db.connection.exec('ALTER TABLE document_outbox ADD COLUMN partition_key INTEGER NOT NULL DEFAULT 0');
}

function toRecord(row: DocumentRow): DocumentRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    title: row.title,
    body: row.body,
    tags: JSON.parse(row.tags) as string[],
    author: row.author,
    status: row.status as DocumentStatus,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toChange(row: OutboxRow): DocumentChange {
  const document = row.payload ? (JSON.parse(row.payload) as DocumentRow) : null;
  return {
    sequence: String(row.sequence),
    tenantId: row.tenant_id,
    documentId: row.document_id,
    version: row.version,
    operation: row.operation,
    document: document && toRecord(document),
    committedAt: new Date(row.committed_at),
  };
}

function toRow(record: DocumentRecord): DocumentRow {
  return {
    tenant_id: record.tenantId,
    id: record.id,
    title: record.title,
    body: record.body,
    tags: JSON.stringify(record.tags),
    author: record.author,
    status: record.status,
    version: record.version,
    created_at: record.createdAt.toISOString(),
    updated_at: record.updatedAt.toISOString(),
  };
}

/** How a write's outcome is kept beside its idempotency key, and read back for a retry. */
interface OutcomeCodec<T> {
  encode(outcome: T): string;
  decode(stored: string): T;
}

const documentOutcome: OutcomeCodec<DocumentRecord> = {
  encode: (record) => JSON.stringify(toRow(record)),
  decode: (stored) => toRecord(JSON.parse(stored) as DocumentRow),
};

const deleteOutcome: OutcomeCodec<boolean> = {
  encode: (existed) => JSON.stringify(existed),
  decode: (stored) => JSON.parse(stored) as boolean,
};

/** Expired keys each keyed write removes: more than the one it adds, so the table stays about one retention's worth. */
const expiredKeysPerWrite = 2;

/** Every table that holds a tenant's rows, for erasure. */
const tenantTables = [
  'documents',
  'document_outbox',
  'document_tombstones',
  'document_dead_letters',
  'tenant_usage',
  'idempotency_keys',
] as const;

interface DeadLetterRow extends Omit<OutboxRow, 'sequence'> {
  id: string;
  error: string;
  attempts: number;
  parked_at: string;
}

const toDeadLetter = (row: DeadLetterRow): DeadLetter => ({
  id: row.id,
  change: toChange({ ...row, sequence: Number(row.id) }),
  error: row.error,
  attempts: row.attempts,
  parkedAt: new Date(row.parked_at),
});

/** Documents and their outbox in the embedded SQLite database; each write and its outbox row commit together. */
export class SqliteDocumentStore
  implements DocumentStore, DocumentScan, DeadLetterStore, TombstonePruning, TenantErasure
{
  readonly #db: EmbeddedDatabase;

  constructor(db: EmbeddedDatabase) {
    this.#db = db;
    db.transaction(() => {
      const counted = db.statement("SELECT 1 FROM sqlite_schema WHERE name = 'tenant_usage'").get();
      db.connection.exec(schema);
      // Counted once from the documents when the table is new; every write keeps it after that.
      if (!counted) db.connection.exec(usageSchema);
      const timed = db.statement(
        "SELECT 1 FROM pragma_table_info('document_tombstones') WHERE name = 'deleted_at'",
      );
      if (!timed.get()) db.connection.exec(tombstoneTimeMigration);
      db.connection.exec(
        'CREATE INDEX IF NOT EXISTS document_tombstones_by_deleted ON document_tombstones (deleted_at)',
      );
      addPartitionKeys(db);
    });
  }

  async findByIds(
    tenantId: string,
    ids: readonly string[],
    options?: ReadOptions,
  ): Promise<(DocumentRecord | null)[]> {
    // A statement on this connection runs to its end once started; only one not yet started can be skipped.
    options?.signal?.throwIfAborted();
    if (ids.length === 0) return [];
    // One JSON parameter rather than a `?` per id: one SQL text, so one prepared statement for every batch size.
    const rows = this.#db
      .statement('SELECT * FROM documents WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))')
      .all(tenantId, JSON.stringify(ids)) as unknown as DocumentRow[];
    const byId = new Map(rows.map((row) => [row.id, toRecord(row)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async create(
    tenantId: string,
    document: NewDocument,
    id: string = randomUUID(),
    options: WriteOptions = {},
  ): Promise<DocumentRecord> {
    const now = new Date();
    return this.#db.transaction(() =>
      this.#once(tenantId, options.idempotency, documentOutcome, () =>
        this.#create(tenantId, document, id, now, options),
      ),
    );
  }

  #create(
    tenantId: string,
    document: NewDocument,
    id: string,
    now: Date,
    options: WriteOptions,
  ): DocumentRecord {
    this.#count(tenantId, { documents: 1, bytes: storedBytes(document) }, options);
    const tombstone = this.#db
      .statement('DELETE FROM document_tombstones WHERE tenant_id = ? AND id = ? RETURNING version')
      .get(tenantId, id) as { version: number } | undefined;
    // After a delete of the same id: the index keeps the delete's version, and would drop anything not newer.
    const version = (tombstone?.version ?? 0) + 1;
    const record: DocumentRecord = { ...document, id, tenantId, version, createdAt: now, updatedAt: now };
    const row = toRow(record);
    const inserted = this.#db
      .statement(
        `INSERT INTO documents (tenant_id, id, title, body, tags, author, status, version, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .run(
        row.tenant_id,
        row.id,
        row.title,
        row.body,
        row.tags,
        row.author,
        row.status,
        row.version,
        row.created_at,
        row.updated_at,
      );
    if (inserted.changes === 0) throw new DocumentExistsError(`Document ${id} already exists`);
    this.#recordChange(record, 'upsert');
    return record;
  }

  async update(
    tenantId: string,
    id: string,
    patch: DocumentPatch,
    expectedVersion?: number,
    options: WriteOptions = {},
  ): Promise<DocumentRecord> {
    return this.#db.transaction(() =>
      this.#once(tenantId, options.idempotency, documentOutcome, () =>
        this.#update(tenantId, id, patch, expectedVersion, options),
      ),
    );
  }

  #update(
    tenantId: string,
    id: string,
    patch: DocumentPatch,
    expectedVersion: number | undefined,
    options: WriteOptions,
  ): DocumentRecord {
    const current = this.#current(tenantId, id);
    if (!current) throw new DocumentNotFoundError(`Document ${id} not found`);
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw new VersionConflictError(current.version);
    }
    const previous = toRecord(current);
    const defined = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
    const next: DocumentRecord = {
      ...previous,
      ...defined,
      version: previous.version + 1,
      updatedAt: new Date(),
    };
    this.#count(tenantId, { documents: 0, bytes: storedBytes(next) - storedBytes(previous) }, options);
    const row = toRow(next);
    // The version predicate makes the write conditional even though the read above holds the write lock.
    this.#db
      .statement(
        `UPDATE documents SET title = ?, body = ?, tags = ?, author = ?, status = ?, version = ?, updated_at = ?
         WHERE tenant_id = ? AND id = ? AND version = ?`,
      )
      .run(
        row.title,
        row.body,
        row.tags,
        row.author,
        row.status,
        row.version,
        row.updated_at,
        tenantId,
        id,
        previous.version,
      );
    this.#recordChange(next, 'upsert');
    return next;
  }

  async delete(tenantId: string, id: string, options: WriteOptions = {}): Promise<boolean> {
    return this.#db.transaction(() =>
      this.#once(tenantId, options.idempotency, deleteOutcome, () => this.#delete(tenantId, id)),
    );
  }

  #delete(tenantId: string, id: string): boolean {
    const current = this.#current(tenantId, id);
    if (!current) return false;
    this.#db.statement('DELETE FROM documents WHERE tenant_id = ? AND id = ?').run(tenantId, id);
    this.#count(tenantId, { documents: -1, bytes: -storedBytes(toRecord(current)) });
    // A delete is a version of its own, so the index can tell it from (and order it after) the last upsert.
    const version = current.version + 1;
    // The tombstone and the outbox entry carry the same time, which the search index's tombstone keeps.
    const deletedAt = new Date();
    this.#db
      .statement(
        'INSERT OR REPLACE INTO document_tombstones (tenant_id, id, version, deleted_at) VALUES (?, ?, ?, ?)',
      )
      .run(tenantId, id, version, deletedAt.toISOString());
    this.#recordChange({ ...toRecord(current), version, updatedAt: deletedAt }, 'delete');
    return true;
  }

  /**
   * Inside the write's transaction: a key still held replays its outcome (or refuses other input), else
   * the write runs and its outcome is kept under the key. A write that throws keeps nothing: it rolls back.
   */
  #once<T>(
    tenantId: string,
    idempotency: IdempotentWrite | undefined,
    codec: OutcomeCodec<T>,
    write: () => T,
  ): T {
    if (!idempotency) return write();
    const now = new Date().toISOString();
    const held = this.#db
      .statement(
        'SELECT fingerprint, outcome FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND expires_at > ?',
      )
      .get(tenantId, idempotency.key, now) as { fingerprint: string; outcome: string } | undefined;
    if (held) {
      if (held.fingerprint !== idempotency.fingerprint)
        throw new IdempotencyKeyReusedError('The idempotency key was used for a different write');
      return codec.decode(held.outcome);
    }
    const outcome = write();
    this.#db
      .statement(
        `DELETE FROM idempotency_keys WHERE (tenant_id, key) IN
           (SELECT tenant_id, key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)`,
      )
      .run(now, expiredKeysPerWrite);
    // REPLACE: an expired record of the same key may still be there.
    this.#db
      .statement(
        'INSERT OR REPLACE INTO idempotency_keys (tenant_id, key, fingerprint, outcome, expires_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(
        tenantId,
        idempotency.key,
        idempotency.fingerprint,
        codec.encode(outcome),
        idempotency.expiresAt.toISOString(),
      );
    return outcome;
  }

  async usage(tenantId: string): Promise<TenantUsage> {
    return this.#usage(tenantId);
  }

  #usage(tenantId: string): TenantUsage {
    const row = this.#db
      .statement('SELECT documents, bytes FROM tenant_usage WHERE tenant_id = ?')
      .get(tenantId) as TenantUsage | undefined;
    return row ?? { documents: 0, bytes: 0 };
  }

  /** Inside the write's transaction: checks the quota, then counts the change; a refusal rolls the write back. */
  #count(tenantId: string, added: TenantUsage, options: WriteOptions = {}) {
    checkQuota(this.#usage(tenantId), options.quota, added);
    this.#db
      .statement(
        `INSERT INTO tenant_usage (tenant_id, documents, bytes) VALUES (?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET documents = documents + excluded.documents, bytes = bytes + excluded.bytes`,
      )
      .run(tenantId, added.documents, added.bytes);
  }

  /** The row as it stands inside the caller's write transaction. */
  #current(tenantId: string, id: string): DocumentRow | undefined {
    return this.#db.statement('SELECT * FROM documents WHERE tenant_id = ? AND id = ?').get(tenantId, id) as
      | DocumentRow
      | undefined;
  }

  #recordChange(record: DocumentRecord, operation: 'upsert' | 'delete') {
    this.#db
      .statement(
        `INSERT INTO document_outbox (tenant_id, partition_key, document_id, version, operation, payload, committed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.tenantId,
        partitionKeyOf(record.tenantId),
        record.id,
        record.version,
        operation,
        operation === 'upsert' ? JSON.stringify(toRow(record)) : null,
        record.updatedAt.toISOString(),
      );
  }

  async pull(limit: number, scope?: PartitionScope): Promise<DocumentChange[]> {
    const rows = (scope
      ? this.#db
          .statement(
            `SELECT * FROM document_outbox WHERE partition_key % ? IN (SELECT value FROM json_each(?))
               ORDER BY sequence LIMIT ?`,
          )
          .all(scope.count, JSON.stringify(scope.partitions), limit)
      : this.#db
          .statement('SELECT * FROM document_outbox ORDER BY sequence LIMIT ?')
          .all(limit)) as unknown as OutboxRow[];
    return rows.map(toChange);
  }

  async acknowledge(changes: readonly DocumentChange[]): Promise<void> {
    if (changes.length === 0) return;
    this.#db.transaction(() => {
      for (const change of changes) {
        this.#db.statement('DELETE FROM document_outbox WHERE sequence = ?').run(Number(change.sequence));
      }
    });
  }

  async oldestPendingAt(): Promise<Date | null> {
    const row = this.#db
      .statement('SELECT committed_at FROM document_outbox ORDER BY sequence LIMIT 1')
      .get() as { committed_at: string } | undefined;
    return row ? new Date(row.committed_at) : null;
  }

  async park(letters: readonly Omit<DeadLetter, 'id' | 'parkedAt'>[]): Promise<void> {
    const parkedAt = new Date().toISOString();
    this.#db.transaction(() => {
      for (const { change, error, attempts } of letters) {
        // Copied from the outbox row itself, which another indexer may already have acknowledged.
        this.#db
          .statement(
            `INSERT OR REPLACE INTO document_dead_letters
               (id, tenant_id, document_id, version, operation, payload, committed_at, error, attempts, parked_at)
             SELECT CAST(sequence AS TEXT), tenant_id, document_id, version, operation, payload, committed_at, ?, ?, ?
             FROM document_outbox WHERE sequence = ?`,
          )
          .run(error, attempts, parkedAt, Number(change.sequence));
        this.#db.statement('DELETE FROM document_outbox WHERE sequence = ?').run(Number(change.sequence));
      }
    });
  }

  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    const rows = this.#db
      .statement('SELECT * FROM document_dead_letters ORDER BY parked_at, id LIMIT ?')
      .all(limit) as unknown as DeadLetterRow[];
    return rows.map(toDeadLetter);
  }

  async retryDeadLetter(id: string): Promise<boolean> {
    return this.#db.transaction(() => {
      const row = this.#db.statement('DELETE FROM document_dead_letters WHERE id = ? RETURNING *').get(id) as
        | DeadLetterRow
        | undefined;
      if (!row) return false;
      // A new sequence at the end of the outbox; the index applies it by version, so it never overwrites a newer one.
      this.#db
        .statement(
          `INSERT INTO document_outbox (tenant_id, partition_key, document_id, version, operation, payload, committed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          row.tenant_id,
          partitionKeyOf(row.tenant_id),
          row.document_id,
          row.version,
          row.operation,
          row.payload,
          row.committed_at,
        );
      return true;
    });
  }

  async dropDeadLetter(id: string): Promise<boolean> {
    return this.#db.statement('DELETE FROM document_dead_letters WHERE id = ?').run(id).changes > 0;
  }

  async countDeadLetters(): Promise<number> {
    return (this.#db.statement('SELECT count(*) AS n FROM document_dead_letters').get() as { n: number }).n;
  }

  async pruneTombstones(deletedBefore: Date, limit: number): Promise<number> {
    return Number(
      this.#db
        .statement(
          `DELETE FROM document_tombstones WHERE (tenant_id, id) IN (
             SELECT tenant_id, id FROM document_tombstones WHERE deleted_at < ? LIMIT ?)`,
        )
        .run(deletedBefore.toISOString(), limit).changes,
    );
  }

  async scan({
    tenantId,
    after,
    limit,
  }: {
    tenantId?: string;
    after?: ScanPosition;
    limit: number;
  }): Promise<DocumentRecord[]> {
    const conditions: string[] = [];
    const params: (string | number)[] = [];
    if (tenantId !== undefined) {
      conditions.push('tenant_id = ?');
      params.push(tenantId);
    }
    if (after) {
      conditions.push('(tenant_id, id) > (?, ?)');
      params.push(after.tenantId, after.id);
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows = this.#db
      .statement(`SELECT * FROM documents ${where} ORDER BY tenant_id, id LIMIT ?`)
      .all(...params, limit) as unknown as DocumentRow[];
    return rows.map(toRecord);
  }

  async count(tenantId?: string): Promise<number> {
    const row = (
      tenantId === undefined
        ? this.#db.statement('SELECT count(*) AS n FROM documents').get()
        : this.#db.statement('SELECT count(*) AS n FROM documents WHERE tenant_id = ?').get(tenantId)
    ) as { n: number };
    return row.n;
  }

  async eraseTenant(tenantId: string): Promise<void> {
    this.#db.transaction(() => {
      for (const table of tenantTables)
        this.#db.statement(`DELETE FROM ${table} WHERE tenant_id = ?`).run(tenantId);
    });
  }

  async close(): Promise<void> {}
}

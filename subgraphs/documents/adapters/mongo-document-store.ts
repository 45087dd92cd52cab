import { randomUUID } from 'node:crypto';
import {
  type ClientSession,
  type Db,
  type Filter,
  type MongoClient,
  MongoError,
  MongoErrorLabel,
  ObjectId,
} from 'mongodb';
import type {
  DeadLetter,
  DeadLetterStore,
  DocumentChange,
  DocumentRecord,
  TombstonePruning,
} from '../../../server/documents/model.ts';
import { type PartitionScope, partitionKeyOf } from '../../../server/documents/partitions.ts';
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
  WriteOutcomeUnknownError,
} from '../document-store.ts';

/**
 * One document as stored. `_id` is the tenant and the id together, not the
 * bare id: `_id` is unique across the whole collection, so a bare id would let
 * one tenant's explicit id (import, seeding) collide with, and so reveal,
 * another tenant's document. `id` keeps the id as clients know it.
 */
export interface MongoDocument extends DocumentRecord {
  _id: string;
}

/** The last version of a deleted document, so that creating its id again continues after it. */
export interface MongoTombstone {
  _id: string;
  tenantId: string;
  version: number;
  /** When the delete committed; absent on tombstones written before pruning existed, which are kept. */
  deletedAt?: Date;
}

/** One outbox entry; written in the same transaction as the document it describes. */
export interface MongoOutboxEntry {
  _id: ObjectId;
  tenantId: string;
  /** A hash of the tenant (server/documents/partitions.ts); absent on entries written before partitions existed. */
  partitionKey?: number;
  documentId: string;
  version: number;
  operation: 'upsert' | 'delete';
  document: Omit<MongoDocument, '_id'> | null;
  committedAt: Date;
}

/** An outbox entry the indexer gave up on, under the outbox `_id` it had (as hex). */
export interface MongoDeadLetter extends Omit<MongoOutboxEntry, '_id'> {
  _id: string;
  error: string;
  attempts: number;
  parkedAt: Date;
}

/** A client's idempotency key with its write's outcome, written in that write's transaction. */
export interface MongoIdempotencyKey {
  /** `documentKey(tenantId, key)`. */
  _id: string;
  tenantId: string;
  fingerprint: string;
  /** The document written, or whether a delete found its document. */
  outcome: Omit<MongoDocument, '_id'> | boolean;
  /** A TTL index removes the record after this. */
  expiresAt: Date;
}

/** A tenant's live documents and bytes, updated in every write's transaction. */
export interface MongoTenantUsage extends TenantUsage {
  /** The tenant id. */
  _id: string;
}

export interface MongoDocumentStoreOptions {
  /** Only sessions are needed from the client, for transactions. */
  client: Pick<MongoClient, 'startSession'>;
  db: Pick<Db, 'collection'>;
  /** Default `documents`. */
  documentsCollection?: string;
  /** Default `document_outbox`. */
  outboxCollection?: string;
  /** Default `document_tombstones`. */
  tombstonesCollection?: string;
  /** Default `document_dead_letters`. */
  deadLettersCollection?: string;
  /** Default `tenant_usage`. */
  usageCollection?: string;
  /** Default `idempotency_keys`. */
  idempotencyCollection?: string;
  /** Server-side limit (`maxTimeMS`) on every operation and on transaction commits. Default 5000. */
  operationTimeoutMs?: number;
}

/** Injective: an encoded tenant has no `/`, so the first `/` always ends it. */
export const documentKey = (tenantId: string, id: string) => `${encodeURIComponent(tenantId)}/${id}`;

const duplicateKeyCode = 11000;
const isDuplicateKey = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === duplicateKeyCode;

/**
 * A commit whose result the driver could not learn: the server's maxTimeMS expired on it, or the
 * connection was lost or timed out after it was sent (the driver labels each so). A statement that
 * fails before the commit aborts the transaction, so nothing of it was applied: that failure stays
 * an outage.
 */
const isCommitOutcomeUnknown = (error: unknown) =>
  error instanceof MongoError && error.hasErrorLabel(MongoErrorLabel.UnknownTransactionCommitResult);

/** The entries of `scope`'s partitions; an entry without a key (written before partitions existed) is key 0. */
function inPartitions({ count, partitions }: PartitionScope): Filter<MongoOutboxEntry> {
  return {
    $or: partitions.flatMap((partition): Filter<MongoOutboxEntry>[] => [
      { partitionKey: { $mod: [count, partition] } },
      ...(partition === 0 ? [{ partitionKey: { $exists: false } }] : []),
    ]),
  };
}

function toRecord(doc: Omit<MongoDocument, '_id'>): DocumentRecord {
  return {
    id: doc.id,
    tenantId: doc.tenantId,
    title: doc.title,
    body: doc.body,
    tags: [...doc.tags],
    author: doc.author ?? null,
    status: doc.status,
    version: doc.version,
    createdAt: new Date(doc.createdAt),
    updatedAt: new Date(doc.updatedAt),
  };
}

const toChange = (entry: Omit<MongoOutboxEntry, '_id'>, sequence: string): DocumentChange => ({
  sequence,
  tenantId: entry.tenantId,
  documentId: entry.documentId,
  version: entry.version,
  operation: entry.operation,
  document: entry.document && toRecord(entry.document),
  committedAt: new Date(entry.committedAt),
});

const toStored = (record: DocumentRecord): Omit<MongoDocument, '_id'> => ({
  tenantId: record.tenantId,
  id: record.id,
  title: record.title,
  body: record.body,
  tags: [...record.tags],
  author: record.author,
  status: record.status,
  version: record.version,
  createdAt: record.createdAt,
  updatedAt: record.updatedAt,
});

/** How a write's outcome is kept beside its idempotency key, and read back for a retry. */
interface OutcomeCodec<T> {
  encode(outcome: T): MongoIdempotencyKey['outcome'];
  decode(stored: MongoIdempotencyKey['outcome']): T;
}

const documentOutcome: OutcomeCodec<DocumentRecord> = {
  encode: toStored,
  decode: (stored) => toRecord(stored as Omit<MongoDocument, '_id'>),
};

const deleteOutcome: OutcomeCodec<boolean> = {
  encode: (existed) => existed,
  decode: (stored) => stored === true,
};

/**
 * Documents and their outbox in MongoDB. Every document filter names the
 * tenant. Each write and its outbox entry commit in one transaction (hence a
 * replica set, even a single-node one). Outbox `_id`s (ObjectIds) are not in
 * commit order across concurrent transactions; that is fine because
 * `acknowledge` deletes exactly the entries it was given rather than
 * "everything up to here", and the index applies changes by version.
 */
export class MongoDocumentStore
  implements DocumentStore, DocumentScan, DeadLetterStore, TombstonePruning, TenantErasure
{
  readonly #client: Pick<MongoClient, 'startSession'>;
  readonly #documents;
  readonly #outbox;
  readonly #tombstones;
  readonly #deadLetters;
  readonly #usage;
  readonly #idempotencyKeys;
  readonly #limit: { maxTimeMS: number };

  constructor({
    client,
    db,
    documentsCollection = 'documents',
    outboxCollection = 'document_outbox',
    tombstonesCollection = 'document_tombstones',
    deadLettersCollection = 'document_dead_letters',
    usageCollection = 'tenant_usage',
    idempotencyCollection = 'idempotency_keys',
    operationTimeoutMs = 5000,
  }: MongoDocumentStoreOptions) {
    this.#client = client;
    this.#limit = { maxTimeMS: operationTimeoutMs };
    this.#documents = db.collection<MongoDocument>(documentsCollection);
    this.#outbox = db.collection<MongoOutboxEntry>(outboxCollection);
    this.#tombstones = db.collection<MongoTombstone>(tombstonesCollection);
    this.#deadLetters = db.collection<MongoDeadLetter>(deadLettersCollection);
    this.#usage = db.collection<MongoTenantUsage>(usageCollection);
    this.#idempotencyKeys = db.collection<MongoIdempotencyKey>(idempotencyCollection);
  }

  /**
   * Startup: `{tenantId, _id}` serves every lookup and is the shard key
   * (deploy/mongo/); `{tenantId, updatedAt}` serves recency listings.
   * Creating an index that exists is a no-op.
   */
  async ensureIndexes(): Promise<void> {
    await this.#documents.createIndexes([
      { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
      { key: { tenantId: 1, updatedAt: -1 }, name: 'tenant_updated' },
    ]);
    await this.#tombstones.createIndexes([
      { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
      // Pruning reads the oldest tombstones first.
      { key: { deletedAt: 1 }, name: 'deleted_at' },
    ]);
    await this.#deadLetters.createIndexes([{ key: { parkedAt: 1, _id: 1 }, name: 'parked_at' }]);
    // The indexer's lag (every scrape) and the documents service's readiness trial read the oldest entry.
    await this.#outbox.createIndexes([{ key: { committedAt: 1 }, name: 'committed_at' }]);
    // The server removes a key once its retention is over; lookups also ignore one that expired but is not yet removed.
    await this.#idempotencyKeys.createIndexes([
      { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
      { key: { expiresAt: 1 }, name: 'expires_at', expireAfterSeconds: 0 },
    ]);
  }

  async findByIds(
    tenantId: string,
    ids: readonly string[],
    options?: ReadOptions,
  ): Promise<(DocumentRecord | null)[]> {
    if (ids.length === 0) return [];
    // `maxTimeMS` bounds the query on the server; the signal stops the driver's wait for an abandoned one.
    const docs = await this.#documents
      .find(
        { tenantId, _id: { $in: ids.map((id) => documentKey(tenantId, id)) } },
        { ...this.#limit, signal: options?.signal },
      )
      .toArray();
    const byId = new Map(docs.map((doc) => [doc.id, toRecord(doc)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async create(
    tenantId: string,
    document: NewDocument,
    id: string = randomUUID(),
    options: WriteOptions = {},
  ): Promise<DocumentRecord> {
    const now = new Date();
    const key = documentKey(tenantId, id);
    try {
      return await this.#transaction(async (session) =>
        this.#once(tenantId, options.idempotency, documentOutcome, session, async () => {
          await this.#count(tenantId, { documents: 1, bytes: storedBytes(document) }, session, options);
          // Taken back if the insert fails: the transaction aborts.
          const tombstone = await this.#tombstones.findOneAndDelete(
            { tenantId, _id: key },
            { session, ...this.#limit },
          );
          // After a delete of the same id: the index keeps the delete's version, and would drop anything not newer.
          const version = (tombstone?.version ?? 0) + 1;
          const record: DocumentRecord = {
            ...document,
            id,
            tenantId,
            version,
            createdAt: now,
            updatedAt: now,
          };
          await this.#documents.insertOne({ _id: key, ...toStored(record) }, { session, ...this.#limit });
          await this.#recordChange(record, 'upsert', session);
          return record;
        }),
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw new DocumentExistsError(`Document ${id} already exists`);
      throw error;
    }
  }

  async update(
    tenantId: string,
    id: string,
    patch: DocumentPatch,
    expectedVersion?: number,
    options: WriteOptions = {},
  ): Promise<DocumentRecord> {
    const filter: Filter<MongoDocument> = { tenantId, _id: documentKey(tenantId, id) };
    return this.#transaction(async (session) =>
      this.#once(tenantId, options.idempotency, documentOutcome, session, async () => {
        const current = await this.#documents.findOne(filter, { session, ...this.#limit });
        if (!current) throw new DocumentNotFoundError(`Document ${id} not found`);
        if (expectedVersion !== undefined && current.version !== expectedVersion) {
          throw new VersionConflictError(current.version);
        }
        const defined = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
        // Conditional on the version read above: a write that slipped in between matches nothing here.
        const updated = await this.#documents.findOneAndUpdate(
          { ...filter, version: current.version },
          { $set: { ...defined, updatedAt: new Date() }, $inc: { version: 1 } },
          { session, returnDocument: 'after', ...this.#limit },
        );
        if (!updated) {
          const latest = await this.#documents.findOne(filter, { session, ...this.#limit });
          if (!latest) throw new DocumentNotFoundError(`Document ${id} not found`);
          throw new VersionConflictError(latest.version);
        }
        const next = toRecord(updated);
        const grown = storedBytes(next) - storedBytes(toRecord(current));
        await this.#count(tenantId, { documents: 0, bytes: grown }, session, options);
        await this.#recordChange(next, 'upsert', session);
        return next;
      }),
    );
  }

  async delete(tenantId: string, id: string, options: WriteOptions = {}): Promise<boolean> {
    return this.#transaction(async (session) =>
      this.#once(tenantId, options.idempotency, deleteOutcome, session, async () => {
        const removed = await this.#documents.findOneAndDelete(
          { tenantId, _id: documentKey(tenantId, id) },
          { session, ...this.#limit },
        );
        if (!removed) return false;
        await this.#count(tenantId, { documents: -1, bytes: -storedBytes(toRecord(removed)) }, session);
        // A delete is a version of its own, so the index can tell it from (and order it after) the last upsert.
        const version = removed.version + 1;
        // The tombstone and the outbox entry carry the same time, which the search index's tombstone keeps.
        const deletedAt = new Date();
        await this.#tombstones.replaceOne(
          { tenantId, _id: removed._id },
          { tenantId, version, deletedAt },
          { upsert: true, session, ...this.#limit },
        );
        await this.#recordChange({ ...toRecord(removed), version, updatedAt: deletedAt }, 'delete', session);
        return true;
      }),
    );
  }

  /**
   * In the write's transaction: a key still held replays its outcome (or refuses other input), else the
   * write runs and its outcome is kept under the key. Two writes racing with one key conflict on its record,
   * and the retried one replays; a write that throws aborts, key and all.
   */
  async #once<T>(
    tenantId: string,
    idempotency: IdempotentWrite | undefined,
    codec: OutcomeCodec<T>,
    session: ClientSession,
    write: () => Promise<T>,
  ): Promise<T> {
    if (!idempotency) return write();
    const filter = { tenantId, _id: documentKey(tenantId, idempotency.key) };
    const held = await this.#idempotencyKeys.findOne(
      { ...filter, expiresAt: { $gt: new Date() } },
      { session, ...this.#limit },
    );
    if (held) {
      if (held.fingerprint !== idempotency.fingerprint)
        throw new IdempotencyKeyReusedError('The idempotency key was used for a different write');
      return codec.decode(held.outcome);
    }
    const outcome = await write();
    // Replace: an expired record of the same key may not have been removed yet.
    await this.#idempotencyKeys.replaceOne(
      filter,
      {
        tenantId,
        fingerprint: idempotency.fingerprint,
        outcome: codec.encode(outcome),
        expiresAt: idempotency.expiresAt,
      },
      { upsert: true, session, ...this.#limit },
    );
    return outcome;
  }

  async usage(tenantId: string): Promise<TenantUsage> {
    const usage = await this.#usage.findOne({ _id: tenantId }, this.#limit);
    return { documents: usage?.documents ?? 0, bytes: usage?.bytes ?? 0 };
  }

  /** In the write's transaction: counts the change, and a refusal aborts the whole write, count included. */
  async #count(tenantId: string, added: TenantUsage, session: ClientSession, options: WriteOptions = {}) {
    const before = await this.#usage.findOneAndUpdate(
      { _id: tenantId },
      { $inc: { documents: added.documents, bytes: added.bytes } },
      { upsert: true, returnDocument: 'before', session, ...this.#limit },
    );
    checkQuota({ documents: before?.documents ?? 0, bytes: before?.bytes ?? 0 }, options.quota, added);
  }

  async pull(limit: number, scope?: PartitionScope): Promise<DocumentChange[]> {
    // MongoDB refuses an empty `$or`.
    if (scope?.partitions.length === 0) return [];
    const entries = await this.#outbox
      .find(scope ? inPartitions(scope) : {}, this.#limit)
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
    return entries.map((entry) => toChange(entry, entry._id.toHexString()));
  }

  async acknowledge(changes: readonly DocumentChange[]): Promise<void> {
    if (changes.length === 0) return;
    await this.#outbox.deleteMany(
      { _id: { $in: changes.map((change) => ObjectId.createFromHexString(change.sequence)) } },
      this.#limit,
    );
  }

  async oldestPendingAt(): Promise<Date | null> {
    const oldest = await this.#outbox.find({}, this.#limit).sort({ committedAt: 1 }).limit(1).toArray();
    return oldest[0] ? new Date(oldest[0].committedAt) : null;
  }

  async park(letters: readonly Omit<DeadLetter, 'id' | 'parkedAt'>[]): Promise<void> {
    if (letters.length === 0) return;
    const parkedAt = new Date();
    await this.#transaction(async (session) => {
      for (const { change, error, attempts } of letters) {
        // Moved from the outbox entry itself, which another indexer may already have acknowledged.
        const entry = await this.#outbox.findOneAndDelete(
          { _id: ObjectId.createFromHexString(change.sequence) },
          { session, ...this.#limit },
        );
        if (!entry) continue;
        const { _id, ...fields } = entry;
        await this.#deadLetters.replaceOne(
          { _id: _id.toHexString() },
          { ...fields, error, attempts, parkedAt },
          { upsert: true, session, ...this.#limit },
        );
      }
    });
  }

  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    const letters = await this.#deadLetters
      .find({}, this.#limit)
      .sort({ parkedAt: 1, _id: 1 })
      .limit(limit)
      .toArray();
    return letters.map((letter) => ({
      id: letter._id,
      change: toChange(letter, letter._id),
      error: letter.error,
      attempts: letter.attempts,
      parkedAt: new Date(letter.parkedAt),
    }));
  }

  async retryDeadLetter(id: string): Promise<boolean> {
    return this.#transaction(async (session) => {
      const letter = await this.#deadLetters.findOneAndDelete({ _id: id }, { session, ...this.#limit });
      if (!letter) return false;
      const { _id, error: _error, attempts: _attempts, parkedAt: _parkedAt, ...entry } = letter;
      // A new entry in the outbox; the index applies it by version, so it never overwrites a newer one.
      await this.#outbox.insertOne({ ...entry, _id: new ObjectId() }, { session, ...this.#limit });
      return true;
    });
  }

  async dropDeadLetter(id: string): Promise<boolean> {
    const { deletedCount } = await this.#deadLetters.deleteMany({ _id: id }, this.#limit);
    return deletedCount > 0;
  }

  async countDeadLetters(): Promise<number> {
    return this.#deadLetters.countDocuments({}, this.#limit);
  }

  async pruneTombstones(deletedBefore: Date, limit: number): Promise<number> {
    const old = { deletedAt: { $lt: deletedBefore } };
    const batch = await this.#tombstones.find(old, this.#limit).sort({ deletedAt: 1 }).limit(limit).toArray();
    if (batch.length === 0) return 0;
    // The age again in the filter: a tombstone rewritten meanwhile (deleted again) is younger and stays.
    const { deletedCount } = await this.#tombstones.deleteMany(
      { _id: { $in: batch.map((tombstone) => tombstone._id) }, ...old },
      this.#limit,
    );
    return deletedCount;
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
    // Within a tenant every key has the same prefix, so `_id` order is id order.
    const position: Filter<MongoDocument> | undefined = after && {
      $or: [
        { tenantId: { $gt: after.tenantId } },
        { tenantId: after.tenantId, _id: { $gt: documentKey(after.tenantId, after.id) } },
      ],
    };
    const filter: Filter<MongoDocument> =
      tenantId === undefined ? (position ?? {}) : { ...position, tenantId };
    const docs = await this.#documents
      .find(filter, this.#limit)
      .sort({ tenantId: 1, _id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toRecord);
  }

  async count(tenantId?: string): Promise<number> {
    return this.#documents.countDocuments(tenantId === undefined ? {} : { tenantId }, this.#limit);
  }

  /**
   * Not one transaction: a large tenant would exceed its limits. Each delete is idempotent, so a run
   * cut short is finished by running it again; the outbox goes before the documents' index entries can
   * be written again by the indexer.
   */
  async eraseTenant(tenantId: string): Promise<void> {
    await this.#outbox.deleteMany({ tenantId }, this.#limit);
    await this.#documents.deleteMany({ tenantId }, this.#limit);
    await this.#tombstones.deleteMany({ tenantId }, this.#limit);
    await this.#deadLetters.deleteMany({ tenantId }, this.#limit);
    await this.#usage.deleteMany({ _id: tenantId }, this.#limit);
    await this.#idempotencyKeys.deleteMany({ tenantId }, this.#limit);
  }

  async close(): Promise<void> {
    // The client belongs to whoever built it (openDocumentStore), which closes it.
  }

  async #recordChange(record: DocumentRecord, operation: 'upsert' | 'delete', session: ClientSession) {
    await this.#outbox.insertOne(
      {
        _id: new ObjectId(),
        tenantId: record.tenantId,
        partitionKey: partitionKeyOf(record.tenantId),
        documentId: record.id,
        version: record.version,
        operation,
        document: operation === 'upsert' ? toStored(record) : null,
        committedAt: record.updatedAt,
      },
      { session, ...this.#limit },
    );
  }

  /**
   * withTransaction retries the whole callback on transient errors (write conflicts, elections), and a
   * commit whose result is unknown while it has time; one still unknown after that may have been applied.
   */
  async #transaction<T>(work: (session: ClientSession) => Promise<T>): Promise<T> {
    const session = this.#client.startSession();
    try {
      return await session.withTransaction(work, { maxCommitTimeMS: this.#limit.maxTimeMS });
    } catch (error) {
      if (isCommitOutcomeUnknown(error))
        throw new WriteOutcomeUnknownError('MongoDB did not confirm the commit; it may have been applied', {
          cause: error,
        });
      throw error;
    } finally {
      await session.endSession();
    }
  }
}

import { Query, update } from 'mingo';
import {
  ClientSession,
  type Db,
  type MongoClient,
  MongoErrorLabel,
  MongoNetworkTimeoutError,
  MongoServerError,
} from 'mongodb';

type Doc = Record<string, unknown>;
type SortSpec = Record<string, 1 | -1>;

export interface RecordedCall {
  collection: string;
  method: string;
  filter: Doc;
  inTransaction: boolean;
}

/** mingo compares ObjectIds as objects; Mongo compares them by value. Strings keep both honest. */
function normalize(value: unknown): unknown {
  if (value && typeof value === 'object' && '_bsontype' in value && value._bsontype === 'ObjectId') {
    return `oid:${(value as unknown as { toHexString(): string }).toHexString()}`;
  }
  if (Array.isArray(value)) return value.map(normalize);
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, normalize(inner)]));
}

/** Like structuredClone, but ObjectIds keep their class (they are immutable, so sharing them is safe). */
function clone<T>(value: T): T {
  if (value && typeof value === 'object' && '_bsontype' in value) return value;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) return value.map(clone) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, clone(inner)])) as T;
}

function compare(a: unknown, b: unknown): number {
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const left = String(a);
  const right = String(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

function sortDocs(docs: Doc[], spec: SortSpec | undefined): Doc[] {
  if (!spec) return docs;
  return [...docs].sort((a, b) => {
    for (const [field, direction] of Object.entries(spec)) {
      const order = compare(normalize(a[field]), normalize(b[field])) * direction;
      if (order !== 0) return order;
    }
    return 0;
  });
}

const duplicateKey = (collection: string) =>
  new MongoServerError({ message: `E11000 duplicate key error collection: ${collection}`, code: 11000 });

/** What a replica set answers a transaction that writes a document another one changed first. */
export const writeConflict = () =>
  new MongoServerError({
    message:
      'WriteConflict error: this operation conflicted with another operation. Please retry your operation.',
    code: 112,
    codeName: 'WriteConflict',
    errorLabels: ['TransientTransactionError'],
  });

/**
 * A commit the server applied but whose answer ran past `maxCommitTimeMS`, as the driver's
 * `commitTransaction` surfaces it: code 50, labelled UnknownTransactionCommitResult.
 */
export const commitTimedOut = () =>
  new MongoServerError({
    message: 'operation exceeded time limit',
    code: 50,
    codeName: 'MaxTimeMSExpired',
    errorLabels: [MongoErrorLabel.UnknownTransactionCommitResult],
  });

/** A commit whose connection timed out after it was sent, as the driver's `commitTransaction` surfaces it. */
export function commitConnectionTimedOut() {
  const error = new MongoNetworkTimeoutError('connection 3 to 127.0.0.1:27017 timed out');
  error.addErrorLabel(MongoErrorLabel.UnknownTransactionCommitResult);
  return error;
}

/** A document's identity across normalisation: its `_id`, as a string. */
const keyOf = (id: unknown) => JSON.stringify(normalize(id));

/** One transaction in flight: what it wrote, visible only to itself until it commits. */
interface Transaction {
  /** The database's commit count when it started: a document committed after that changed under it. */
  readonly startedAt: number;
  /** Per collection, `_id` key to the document as the transaction left it (null: deleted). */
  readonly writes: Map<MingoCollection, Map<string, Doc | null>>;
  /** Settles when it commits or aborts, releasing its documents. */
  readonly finished: Promise<void>;
  finish(): void;
}

interface SessionOption {
  session?: unknown;
}

const transactionOf = (options: SessionOption | undefined): Transaction | undefined =>
  options?.session instanceof MingoSession ? options.session.active : undefined;

/**
 * A collection whose filters and updates run through mingo, MongoDB's query
 * and update language in JavaScript, so the adapter's real filters (`$in`,
 * `$or`, `$gt`) and updates (`$set`, `$inc`) are evaluated, not mocked away.
 * Writes honour sessions as a replica set does (see MingoDatabase). It does
 * not emulate indexes or sharding.
 */
class MingoCollection {
  /** The committed documents. */
  docs: Doc[] = [];
  readonly indexes: unknown[] = [];
  readonly name: string;
  readonly #database: MingoDatabase;
  /** Per `_id` key, the commit that last wrote it. */
  readonly #committedAt = new Map<string, number>();

  constructor(name: string, database: MingoDatabase) {
    this.name = name;
    this.#database = database;
  }

  /** The documents as `transaction` sees them: the committed ones with its own writes over them. */
  #view(transaction: Transaction | undefined): Doc[] {
    const writes = transaction?.writes.get(this);
    if (!writes) return this.docs;
    const byKey = new Map(this.docs.map((doc) => [keyOf(doc._id), doc] as const));
    for (const [key, doc] of writes) {
      if (doc) byKey.set(key, doc);
      else byKey.delete(key);
    }
    return [...byKey.values()];
  }

  #record(method: string, filter: Doc, options: SessionOption | undefined) {
    this.#database.calls.push({
      collection: this.name,
      method,
      filter,
      inTransaction: options?.session !== undefined,
    });
  }

  #matching(filter: Doc, options: SessionOption | undefined): Doc[] {
    const query = new Query(normalize(filter) as Doc);
    return this.#view(transactionOf(options)).filter((doc) => query.test(normalize(doc) as Doc));
  }

  /**
   * Applies the changes `plan` computes from what the caller sees. In a transaction: a document another
   * transaction holds, or one committed since this one started, is a WriteConflict. Outside one: the
   * write waits until the transaction holding the document ends, then is planned again and committed
   * at once, so a transaction that aborts later never takes it back.
   */
  async #write<R>(
    options: SessionOption | undefined,
    plan: (view: Doc[]) => { changes: [string, Doc | null][]; result: R },
  ): Promise<R> {
    const transaction = transactionOf(options);
    for (;;) {
      const { changes, result } = plan(this.#view(transaction));
      const holder = changes
        .map(([key]) => this.#database.holderOf(this, key))
        .find((held) => held !== undefined && held !== transaction);
      if (holder) {
        if (transaction) throw writeConflict();
        await holder.finished;
        continue;
      }
      if (transaction) {
        if (changes.some(([key]) => (this.#committedAt.get(key) ?? 0) > transaction.startedAt))
          throw writeConflict();
        let writes = transaction.writes.get(this);
        if (!writes) {
          writes = new Map();
          transaction.writes.set(this, writes);
        }
        for (const [key, doc] of changes) {
          this.#database.hold(this, key, transaction);
          writes.set(key, doc);
        }
      } else {
        this.commit(changes, this.#database.nextCommit());
      }
      return result;
    }
  }

  /** Makes `changes` the committed state, as of commit number `commit`. */
  commit(changes: Iterable<[string, Doc | null]>, commit: number) {
    for (const [key, doc] of changes) {
      const position = this.docs.findIndex((existing) => keyOf(existing._id) === key);
      if (doc && position >= 0) this.docs[position] = doc;
      else if (doc) this.docs.push(doc);
      else if (position >= 0) this.docs.splice(position, 1);
      this.#committedAt.set(key, commit);
    }
  }

  async createIndexes(specs: unknown[]) {
    this.indexes.push(...specs);
    return [];
  }

  find(filter: Doc, options?: SessionOption) {
    this.#record('find', filter, options);
    const matched = this.#matching(filter, options);
    let spec: SortSpec | undefined;
    let limit = Number.POSITIVE_INFINITY;
    const cursor = {
      sort(sort: SortSpec) {
        spec = sort;
        return cursor;
      },
      limit(n: number) {
        limit = n;
        return cursor;
      },
      async toArray() {
        return sortDocs(matched, spec)
          .slice(0, limit)
          .map((doc) => clone(doc));
      },
    };
    return cursor;
  }

  async findOne(filter: Doc, options?: SessionOption) {
    this.#record('findOne', filter, options);
    const [doc] = this.#matching(filter, options);
    return doc ? clone(doc) : null;
  }

  async countDocuments(filter: Doc, options?: SessionOption) {
    this.#record('countDocuments', filter, options);
    return this.#matching(filter, options).length;
  }

  async insertOne(doc: Doc, options?: SessionOption) {
    this.#record('insertOne', {}, options);
    const key = keyOf(doc._id);
    return this.#write(options, (view) => {
      if (view.some((existing) => keyOf(existing._id) === key)) throw duplicateKey(this.name);
      return { changes: [[key, clone(doc)]], result: { acknowledged: true, insertedId: doc._id } };
    });
  }

  async findOneAndUpdate(
    filter: Doc,
    modifier: Doc,
    options: SessionOption & { returnDocument?: 'before' | 'after'; upsert?: boolean },
  ) {
    this.#record('findOneAndUpdate', filter, options);
    return this.#write(options, (view) => {
      const [doc] = this.#matching(filter, options);
      if (!doc && !options.upsert) return { changes: [], result: null };
      // The filter missed an existing document with the `_id` an upsert would insert: the unique index refuses it.
      if (
        !doc &&
        filter._id !== undefined &&
        view.some((existing) => keyOf(existing._id) === keyOf(filter._id))
      )
        throw duplicateKey(this.name);
      // As MongoDB does on an upsert: the filter's equality fields seed the new document, then the update applies.
      const next = clone(
        doc ?? Object.fromEntries(Object.entries(filter).filter(([key]) => !key.startsWith('$'))),
      );
      update(next, modifier);
      const result = options.returnDocument === 'after' ? clone(next) : doc ? clone(doc) : null;
      return { changes: [[keyOf(next._id), next]], result };
    });
  }

  /** Keeps the matched document's `_id`; with `upsert`, inserts under the filter's `_id` when nothing matches. */
  async replaceOne(filter: Doc, replacement: Doc, options: SessionOption & { upsert?: boolean }) {
    this.#record('replaceOne', filter, options);
    return this.#write(options, () => {
      const [doc] = this.#matching(filter, options);
      if (!doc && !options.upsert)
        return { changes: [], result: { acknowledged: true, matchedCount: 0, upsertedCount: 0 } };
      const _id = doc ? doc._id : filter._id;
      return {
        changes: [[keyOf(_id), { ...clone(replacement), _id }]],
        result: { acknowledged: true, matchedCount: doc ? 1 : 0, upsertedCount: doc ? 0 : 1 },
      };
    });
  }

  async findOneAndDelete(filter: Doc, options?: SessionOption) {
    this.#record('findOneAndDelete', filter, options);
    return this.#write(options, () => {
      const [doc] = this.#matching(filter, options);
      return doc ? { changes: [[keyOf(doc._id), null]], result: clone(doc) } : { changes: [], result: null };
    });
  }

  async deleteMany(filter: Doc, options?: SessionOption) {
    this.#record('deleteMany', filter, options);
    return this.#write(options, () => {
      const doomed = this.#matching(filter, options);
      return {
        changes: doomed.map((doc) => [keyOf(doc._id), null] as [string, null]),
        result: { acknowledged: true, deletedCount: doomed.length },
      };
    });
  }
}

/**
 * A session as the driver's `ClientSession.withTransaction` drives it: the
 * driver's own retry loop runs against it (transient errors retried with its
 * backoff, anything else aborts and is thrown), so the stand-in is held to the
 * same loop as a replica set.
 */
class MingoSession {
  /** Read by the driver's `withTransaction`. */
  transaction: { state: string } = { state: 'NO_TRANSACTION' };
  timeoutContext: unknown = null;
  active: Transaction | undefined;
  readonly #database: MingoDatabase;

  constructor(database: MingoDatabase) {
    this.#database = database;
  }

  startTransaction() {
    this.active = this.#database.begin();
    this.transaction = { state: 'TRANSACTION_IN_PROGRESS' };
  }

  /** Committing again what is already committed succeeds, as it does on a replica set. */
  async commitTransaction() {
    if (this.active) this.#database.end(this.active, true);
    this.active = undefined;
    this.transaction = { state: 'TRANSACTION_COMMITTED' };
    const lostAnswer = this.#database.lostCommitAnswers.shift();
    if (lostAnswer) throw lostAnswer;
  }

  async abortTransaction() {
    if (this.active) this.#database.end(this.active, false);
    this.active = undefined;
    this.transaction = { state: 'TRANSACTION_ABORTED' };
  }

  withTransaction<T>(work: (session: unknown) => Promise<T>, options?: unknown): Promise<T> {
    const driverLoop = ClientSession.prototype.withTransaction as unknown as (
      this: MingoSession,
      work: (session: unknown) => Promise<T>,
      options?: unknown,
    ) => Promise<T>;
    return driverLoop.call(this, work, options);
  }

  async endSession() {
    await this.abortTransaction();
  }
}

/**
 * Collections with MongoDB's transaction semantics on a replica set, as far
 * as the adapter relies on them: a transaction's writes are seen by nobody
 * else until it commits, and vanish if it aborts; a write made without the
 * session commits at once and stays, whatever the transaction does later;
 * two transactions writing the same document conflict at once, the second
 * getting a WriteConflict labelled TransientTransactionError, which the
 * driver's `withTransaction` retries. Reads inside a transaction see the
 * latest commits rather than a snapshot taken when it started.
 */
export class MingoDatabase {
  readonly calls: RecordedCall[] = [];
  readonly collections = new Map<string, MingoCollection>();
  /** Transaction attempts started, retries included. */
  transactions = 0;
  /**
   * Each commit takes the first of these, if any: the commit is applied, then answers this error
   * instead of success (see `commitTimedOut`, `commitConnectionTimedOut`).
   */
  readonly lostCommitAnswers: Error[] = [];
  #commits = 0;
  readonly #held = new Map<MingoCollection, Map<string, Transaction>>();

  collection(name: string): MingoCollection {
    let collection = this.collections.get(name);
    if (!collection) {
      collection = new MingoCollection(name, this);
      this.collections.set(name, collection);
    }
    return collection;
  }

  startSession() {
    return new MingoSession(this);
  }

  nextCommit(): number {
    this.#commits += 1;
    return this.#commits;
  }

  holderOf(collection: MingoCollection, key: string): Transaction | undefined {
    return this.#held.get(collection)?.get(key);
  }

  hold(collection: MingoCollection, key: string, transaction: Transaction) {
    let held = this.#held.get(collection);
    if (!held) {
      held = new Map();
      this.#held.set(collection, held);
    }
    held.set(key, transaction);
  }

  begin(): Transaction {
    this.transactions += 1;
    let finish = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    return { startedAt: this.#commits, writes: new Map(), finished, finish };
  }

  /** Commits (or drops) what `transaction` wrote, then releases its documents. */
  end(transaction: Transaction, commit: boolean) {
    const number = commit ? this.nextCommit() : 0;
    for (const [collection, writes] of transaction.writes) {
      if (commit) collection.commit(writes, number);
      const held = this.#held.get(collection);
      for (const key of writes.keys()) if (held?.get(key) === transaction) held.delete(key);
    }
    transaction.writes.clear();
    transaction.finish();
  }

  /** The typed views the adapter takes; the casts are the price of a fake that implements only what it uses. */
  asClient(): Pick<MongoClient, 'startSession'> {
    return this as unknown as Pick<MongoClient, 'startSession'>;
  }

  asDb(): Pick<Db, 'collection'> {
    return this as unknown as Pick<Db, 'collection'>;
  }
}

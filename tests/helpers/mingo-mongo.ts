import { Query, update } from 'mingo';
import type { Db, MongoClient } from 'mongodb';

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

class DuplicateKeyError extends Error {
  readonly code = 11000;
}

/**
 * A collection whose filters and updates run through mingo, MongoDB's query
 * and update language in JavaScript, so the adapter's real filters (`$in`,
 * `$or`, `$gt`) and updates (`$set`, `$inc`) are evaluated, not mocked away.
 * It does not emulate indexes, sharding or isolation between transactions.
 */
class MingoCollection {
  docs: Doc[] = [];
  readonly indexes: unknown[] = [];
  readonly #name: string;
  readonly #database: MingoDatabase;

  constructor(name: string, database: MingoDatabase) {
    this.#name = name;
    this.#database = database;
  }

  #matching(filter: Doc, method: string, options?: { session?: unknown }): Doc[] {
    this.#database.calls.push({
      collection: this.#name,
      method,
      filter,
      inTransaction: options?.session !== undefined,
    });
    const query = new Query(normalize(filter) as Doc);
    return this.docs.filter((doc) => query.test(normalize(doc) as Doc));
  }

  async createIndexes(specs: unknown[]) {
    this.indexes.push(...specs);
    return [];
  }

  find(filter: Doc, options?: { session?: unknown }) {
    const matched = this.#matching(filter, 'find', options);
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

  async findOne(filter: Doc, options?: { session?: unknown }) {
    const [doc] = this.#matching(filter, 'findOne', options);
    return doc ? clone(doc) : null;
  }

  async countDocuments(filter: Doc) {
    return this.#matching(filter, 'countDocuments').length;
  }

  async insertOne(doc: Doc, options?: { session?: unknown }) {
    this.#database.calls.push({
      collection: this.#name,
      method: 'insertOne',
      filter: {},
      inTransaction: options?.session !== undefined,
    });
    if (this.docs.some((existing) => normalize(existing._id) === normalize(doc._id))) {
      throw new DuplicateKeyError(`E11000 duplicate key error collection: ${this.#name}`);
    }
    this.docs.push(clone(doc));
    return { acknowledged: true, insertedId: doc._id };
  }

  async findOneAndUpdate(
    filter: Doc,
    modifier: Doc,
    options: { session?: unknown; returnDocument?: 'before' | 'after'; upsert?: boolean },
  ) {
    let [doc] = this.#matching(filter, 'findOneAndUpdate', options);
    if (!doc && options.upsert) {
      // As MongoDB does: the filter's equality fields seed the new document, then the update applies.
      doc = clone(Object.fromEntries(Object.entries(filter).filter(([key]) => !key.startsWith('$'))));
      // The filter missed an existing document with this `_id`: the insert hits the unique index.
      if (this.docs.some((existing) => normalize(existing._id) === normalize(doc?._id))) {
        throw new DuplicateKeyError(`E11000 duplicate key error collection: ${this.#name}`);
      }
      this.docs.push(doc);
      update(doc, modifier);
      return options.returnDocument === 'after' ? clone(doc) : null;
    }
    if (!doc) return null;
    const before = clone(doc);
    update(doc, modifier);
    return clone(options.returnDocument === 'after' ? doc : before);
  }

  /** Keeps the matched document's `_id`; with `upsert`, inserts under the filter's `_id` when nothing matches. */
  async replaceOne(filter: Doc, replacement: Doc, options: { session?: unknown; upsert?: boolean }) {
    const [doc] = this.#matching(filter, 'replaceOne', options);
    if (doc) {
      const _id = doc._id;
      for (const key of Object.keys(doc)) delete doc[key];
      Object.assign(doc, clone(replacement), { _id });
      return { acknowledged: true, matchedCount: 1, upsertedCount: 0 };
    }
    if (!options.upsert) return { acknowledged: true, matchedCount: 0, upsertedCount: 0 };
    this.docs.push(clone({ ...replacement, _id: filter._id }));
    return { acknowledged: true, matchedCount: 0, upsertedCount: 1 };
  }

  async findOneAndDelete(filter: Doc, options?: { session?: unknown }) {
    const [doc] = this.#matching(filter, 'findOneAndDelete', options);
    if (!doc) return null;
    this.docs = this.docs.filter((existing) => existing !== doc);
    return clone(doc);
  }

  async deleteMany(filter: Doc, options?: { session?: unknown }) {
    const doomed = new Set(this.#matching(filter, 'deleteMany', options));
    this.docs = this.docs.filter((doc) => !doomed.has(doc));
    return { acknowledged: true, deletedCount: doomed.size };
  }
}

/**
 * Transactions run one at a time (a queue stands in for MongoDB's write
 * conflicts) and roll back by restoring a snapshot when the callback throws.
 */
export class MingoDatabase {
  readonly calls: RecordedCall[] = [];
  readonly collections = new Map<string, MingoCollection>();
  #queue: Promise<unknown> = Promise.resolve();
  transactions = 0;

  collection(name: string): MingoCollection {
    let collection = this.collections.get(name);
    if (!collection) {
      collection = new MingoCollection(name, this);
      this.collections.set(name, collection);
    }
    return collection;
  }

  startSession() {
    const database = this;
    return {
      async withTransaction<T>(work: (session: unknown) => Promise<T>): Promise<T> {
        const run = database.#queue.then(async () => {
          database.transactions += 1;
          const snapshot = new Map(
            [...database.collections].map(([name, collection]) => [name, clone(collection.docs)]),
          );
          try {
            return await work(this);
          } catch (error) {
            for (const [name, docs] of snapshot) {
              const collection = database.collections.get(name);
              if (collection) collection.docs = docs;
            }
            throw error;
          }
        });
        database.#queue = run.catch(() => {});
        return run;
      },
      async endSession() {},
    };
  }

  /** The typed views the adapter takes; the casts are the price of a fake that implements only what it uses. */
  asClient(): Pick<MongoClient, 'startSession'> {
    return this as unknown as Pick<MongoClient, 'startSession'>;
  }

  asDb(): Pick<Db, 'collection'> {
    return this as unknown as Pick<Db, 'collection'>;
  }
}

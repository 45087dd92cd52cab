import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backendsConcern } from '../../server/config/backends.ts';
import { configLoader } from '../../server/config/compose.ts';
import { partitionKeyOf } from '../../server/documents/partitions.ts';
import { createMongoClient } from '../../subgraphs/documents/adapters/index.ts';
import { MongoDocumentStore } from '../../subgraphs/documents/adapters/mongo-document-store.ts';
import { WriteOutcomeUnknownError } from '../../subgraphs/documents/document-store.ts';
import { idempotentWrite } from '../../subgraphs/documents/idempotency.ts';
import {
  commitConnectionTimedOut,
  commitTimedOut,
  MingoDatabase,
  writeConflict,
} from '../helpers/mingo-mongo.ts';
import { describeDocumentStoreContract } from './document-store.contract.ts';

// Here: the adapter's real filters and updates, evaluated by mingo. No MongoDB server is involved.
describeDocumentStoreContract('MongoDB adapter on a mingo-backed collection', async () => {
  const database = new MingoDatabase();
  const store = new MongoDocumentStore({ client: database.asClient(), db: database.asDb() });
  await store.ensureIndexes();
  return { store, cleanup: () => store.close() };
});

// Wherever MONGO_URL points at a real replica set (CI does), the same contract runs against it; elsewhere the
// suite shows as skipped, with the reason in its name, rather than vanishing.
const mongoUrl = process.env.MONGO_URL;
describe.skipIf(!mongoUrl)(
  mongoUrl ? 'MongoDB server' : 'MongoDB server (skipped: MONGO_URL is not set to a replica set)',
  () => {
    describeDocumentStoreContract('MongoDB server', async () => {
      const config = configLoader(backendsConcern)({
        MONGO_URL: mongoUrl,
      });
      if (!config.mongo) throw new Error('MONGO_URL did not configure MongoDB');
      const client = createMongoClient(config.mongo);
      const db = client.db(`quarry_contract_${randomUUID().slice(0, 8)}`);
      const store = new MongoDocumentStore({ client, db });
      await store.ensureIndexes();
      return {
        store,
        async cleanup() {
          await db.dropDatabase();
          await client.close();
        },
      };
    });
  },
);

describe('MongoDocumentStore (mingo)', () => {
  let database: MingoDatabase;
  let store: MongoDocumentStore;

  beforeEach(async () => {
    database = new MingoDatabase();
    store = new MongoDocumentStore({ client: database.asClient(), db: database.asDb() });
  });

  afterEach(async () => {
    await store.close();
  });

  it('creates the tenant-first compound indexes at startup, the outbox its commit-time index, and the keys their TTL index', async () => {
    await store.ensureIndexes();
    expect(database.collection('documents').indexes).toEqual([
      { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
      { key: { tenantId: 1, updatedAt: -1 }, name: 'tenant_updated' },
    ]);
    expect(database.collection('document_tombstones').indexes).toEqual([
      { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
      { key: { deletedAt: 1 }, name: 'deleted_at' },
    ]);
    expect(database.collection('document_outbox').indexes).toEqual([
      { key: { committedAt: 1 }, name: 'committed_at' },
    ]);
    expect(database.collection('document_dead_letters').indexes).toEqual([
      { key: { parkedAt: 1, _id: 1 }, name: 'parked_at' },
    ]);
    // The server removes an idempotency key once its expiry passes.
    expect(database.collection('idempotency_keys').indexes).toEqual([
      { key: { tenantId: 1, _id: 1 }, name: 'tenant_id' },
      { key: { expiresAt: 1 }, name: 'expires_at', expireAfterSeconds: 0 },
    ]);
  });

  it('moves a parked change out of the outbox and into the dead letters in one transaction, and back on retry', async () => {
    await store.create('t', { title: 'A', body: '', tags: [], author: null, status: 'DRAFT' }, 'a');
    const [change] = await store.pull(1);
    if (!change) throw new Error('no outbox entry');
    database.calls.length = 0;
    await store.park([{ change, error: 'refused', attempts: 1 }]);
    await store.retryDeadLetter(change.sequence);
    const moves = database.calls.filter((call) =>
      ['document_outbox', 'document_dead_letters'].includes(call.collection),
    );
    expect(moves.map((call) => [call.collection, call.method, call.inTransaction])).toEqual([
      ['document_outbox', 'findOneAndDelete', true],
      ['document_dead_letters', 'replaceOne', true],
      ['document_dead_letters', 'findOneAndDelete', true],
      ['document_outbox', 'insertOne', true],
    ]);
  });

  it('counts an outbox entry from before partitions (no key) as partition 0, and stores the hash on new ones', async () => {
    const outbox = database.collection('document_outbox');
    await store.create('t', { title: 'A', body: '', tags: [], author: null, status: 'DRAFT' }, 'a');
    expect(outbox.docs[0]).toHaveProperty('partitionKey', partitionKeyOf('t'));
    delete outbox.docs[0]?.partitionKey;
    const count = 8;
    // Its hash would put it elsewhere: only the missing key can make it partition 0's.
    expect(partitionKeyOf('t') % count).not.toBe(0);
    expect((await store.pull(10, { count, partitions: [0] })).map((change) => change.documentId)).toEqual([
      'a',
    ]);
    const others = Array.from({ length: count - 1 }, (_, i) => i + 1);
    expect(await store.pull(10, { count, partitions: others })).toEqual([]);
  });

  it('keeps tombstones written before they carried a deletion time', async () => {
    await database.collection('document_tombstones').insertOne({ _id: 't/old', tenantId: 't', version: 3 });
    expect(await store.pruneTombstones(new Date(Date.now() + 60_000), 10)).toBe(0);
    expect(
      (await store.create('t', { title: 'A', body: '', tags: [], author: null, status: 'DRAFT' }, 'old'))
        .version,
    ).toBe(4);
  });

  it('names the tenant in every filter on the documents collection', async () => {
    await store.create('t', { title: 'A', body: '', tags: [], author: null, status: 'DRAFT' }, 'a');
    await store.findByIds('t', ['a', 'b']);
    await store.update('t', 'a', { title: 'B' }, 1);
    await store.update('t', 'a', { title: 'C' }, 1).catch(() => {});
    await store.scan({ tenantId: 't', limit: 5, after: { tenantId: 't', id: '0' } });
    await store.count('t');
    await store.delete('t', 'a');
    await store.delete('t', 'missing');
    const filters = database.calls.filter(
      (call) => call.collection === 'documents' && call.method !== 'insertOne',
    );
    expect(filters.length).toBeGreaterThanOrEqual(8);
    for (const call of filters) expect(call.filter).toHaveProperty('tenantId', 't');
  });

  it('reads a whole batch with one find on tenant and $in', async () => {
    await store.findByIds('t', ['a', 'b', 'c']);
    const finds = database.calls.filter((call) => call.collection === 'documents');
    expect(finds).toEqual([
      {
        collection: 'documents',
        method: 'find',
        filter: { tenantId: 't', _id: { $in: ['t/a', 't/b', 't/c'] } },
        inTransaction: false,
      },
    ]);
  });

  it('makes the update conditional on the version it read', async () => {
    await store.create('t', { title: 'A', body: '', tags: [], author: null, status: 'DRAFT' }, 'a');
    await store.update('t', 'a', { title: 'B' });
    const conditional = database.calls.find(
      (call) => call.method === 'findOneAndUpdate' && call.collection === 'documents',
    );
    expect(conditional?.filter).toEqual({ tenantId: 't', _id: 't/a', version: 1 });
    expect(conditional?.inTransaction).toBe(true);
  });

  it("counts usage in the write's own transaction", async () => {
    await store.create('t', { title: 'A', body: '', tags: [], author: null, status: 'DRAFT' }, 'a');
    const counted = database.calls.filter((call) => call.collection === 'tenant_usage');
    expect(counted.map((call) => [call.method, call.filter, call.inTransaction])).toEqual([
      ['findOneAndUpdate', { _id: 't' }, true],
    ]);
  });

  it('writes each document and its outbox entry in one transaction, and rolls both back together', async () => {
    await store.create('t', { title: 'A', body: '', tags: [], author: null, status: 'DRAFT' }, 'a');
    const writes = database.calls.filter((call) => call.method === 'insertOne');
    expect(writes.map((call) => [call.collection, call.inTransaction])).toEqual([
      ['documents', true],
      ['document_outbox', true],
    ]);
    // A failure after the document insert must leave neither the document nor an outbox entry.
    const outbox = database.collection('document_outbox');
    const insert = outbox.insertOne.bind(outbox);
    outbox.insertOne = async () => {
      throw new Error('outbox unavailable');
    };
    await expect(
      store.create('t', { title: 'B', body: '', tags: [], author: null, status: 'DRAFT' }, 'b'),
    ).rejects.toThrow('outbox unavailable');
    outbox.insertOne = insert;
    expect(await store.findByIds('t', ['b'])).toEqual([null]);
    expect((await store.pull(10)).map((change) => change.documentId)).toEqual(['a']);
  });

  it('keys documents by tenant and id, so one tenant cannot occupy or detect another tenant’s id', async () => {
    await store.create('a/b', { title: 'X', body: '', tags: [], author: null, status: 'DRAFT' }, 'c');
    await store.create('a', { title: 'Y', body: '', tags: [], author: null, status: 'DRAFT' }, 'b/c');
    const ids = database.collection('documents').docs.map((doc) => doc._id);
    expect(ids).toEqual(['a%2Fb/c', 'a/b/c']);
  });

  describe('a commit whose answer is lost', () => {
    const draft = { title: 'Sent', body: '', tags: [], author: null, status: 'DRAFT' as const };
    const keyed = (key: string, input: unknown) => ({
      idempotency: idempotentWrite(key, 'createDocument', input, 60_000),
    });

    it('is an unknown outcome when maxTimeMS expired on it, and the retry with its key replays the write once', async () => {
      database.lostCommitAnswers.push(commitTimedOut());
      const lost = store.create('t', draft, 'a', keyed('k1', draft));
      await expect(lost).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
      // It was applied: the client's retry with the same key must get it back, not write it again.
      const retried = await store.create('t', draft, 'a', keyed('k1', draft));
      expect(retried).toMatchObject({ id: 'a', version: 1 });
      expect(database.collection('documents').docs).toHaveLength(1);
      expect(await store.pull(10)).toHaveLength(1);
      expect(await store.usage('t')).toEqual({ documents: 1, bytes: expect.any(Number) });
    });

    it('is an unknown outcome for an update and a delete too', async () => {
      await store.create('t', draft, 'a');
      database.lostCommitAnswers.push(commitTimedOut());
      await expect(store.update('t', 'a', { title: 'Changed' })).rejects.toBeInstanceOf(
        WriteOutcomeUnknownError,
      );
      database.lostCommitAnswers.push(commitTimedOut());
      await expect(store.delete('t', 'a')).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
      expect(await store.findByIds('t', ['a'])).toEqual([null]);
    });

    it('is retried by the driver when the connection timed out, and then answers the write, applied once', async () => {
      database.lostCommitAnswers.push(commitConnectionTimedOut());
      expect(await store.create('t', draft, 'a')).toMatchObject({ id: 'a', version: 1 });
      expect(database.collection('documents').docs).toHaveLength(1);
    });

    it('is not claimed for a write that failed before its commit: nothing of it was applied', async () => {
      const outbox = database.collection('document_outbox');
      const insert = outbox.insertOne.bind(outbox);
      outbox.insertOne = async () => {
        outbox.insertOne = insert;
        throw new Error('server selection timed out');
      };
      const failed = store.create('t', draft, 'a');
      await expect(failed).rejects.toThrow('server selection timed out');
      await expect(failed).rejects.not.toBeInstanceOf(WriteOutcomeUnknownError);
      expect(await store.findByIds('t', ['a'])).toEqual([null]);
    });
  });

  describe("the tombstone is taken in the create's transaction", () => {
    const draft = { title: 'Again', body: '', tags: [], author: null, status: 'DRAFT' as const };

    /** Deletes `a` at version 2, then makes the outbox fail the next insert with `error`. */
    async function deletedThenFailing(error: Error) {
      await store.create('t', draft, 'a');
      await store.delete('t', 'a');
      const outbox = database.collection('document_outbox');
      const insert = outbox.insertOne.bind(outbox);
      outbox.insertOne = async () => {
        outbox.insertOne = insert;
        throw error;
      };
    }

    it('keeps the tombstone when the create fails after taking it, so the id still continues after the delete', async () => {
      await deletedThenFailing(new Error('outbox unavailable'));
      await expect(store.create('t', draft, 'a')).rejects.toThrow('outbox unavailable');
      // Version 1 here would sit below the delete (version 2) in the search index, which would drop it.
      expect((await store.create('t', draft, 'a')).version).toBe(3);
    });

    it('still continues after the delete when a write conflict makes withTransaction run the create again', async () => {
      await deletedThenFailing(writeConflict());
      const attempts = database.transactions;
      expect((await store.create('t', draft, 'a')).version).toBe(3);
      expect(database.transactions - attempts).toBe(2);
    });
  });
});

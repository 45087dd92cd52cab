import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MingoDatabase } from '../helpers/mingo-mongo.ts';

/** The stand-in for MongoDB holds the adapters to a replica set's transaction semantics, or its tests prove nothing. */
describe('the mingo-backed MongoDB stand-in', () => {
  const counter = (database: MingoDatabase) => database.collection('counters');
  const committedValue = async (database: MingoDatabase) =>
    (await counter(database).findOne({ _id: 'c' }))?.value;

  it("keeps a transaction's writes from everyone else until it commits, and drops them when it aborts", async () => {
    const database = new MingoDatabase();
    await counter(database).insertOne({ _id: 'c', value: 0 });
    const session = database.startSession();
    const failed = session.withTransaction(async (inside) => {
      await counter(database).findOneAndUpdate({ _id: 'c' }, { $inc: { value: 1 } }, { session: inside });
      expect((await counter(database).findOne({ _id: 'c' }, { session: inside }))?.value).toBe(1);
      expect(await committedValue(database)).toBe(0);
      throw new Error('changed my mind');
    });
    await expect(failed).rejects.toThrow('changed my mind');
    expect(await committedValue(database)).toBe(0);
  });

  it('refuses an upsert whose filter misses an existing _id with a duplicate key error, as the unique index does', async () => {
    const database = new MingoDatabase();
    const leases = database.collection('leases');
    await leases.insertOne({ _id: 1, holder: 'a' });
    const taking = leases.findOneAndUpdate(
      { _id: 1, holder: 'b' },
      { $set: { holder: 'b' } },
      { upsert: true },
    );
    await expect(taking).rejects.toMatchObject({ code: 11000 });
    expect(leases.docs).toEqual([{ _id: 1, holder: 'a' }]);
  });

  it('does not roll back a write made without the session', async () => {
    const database = new MingoDatabase();
    const tombstones = database.collection('tombstones');
    await tombstones.insertOne({ _id: 't/a', version: 2 });
    const session = database.startSession();
    const failed = session.withTransaction(async (inside) => {
      await tombstones.findOneAndDelete({ _id: 't/a' });
      await database.collection('documents').insertOne({ _id: 't/a' }, { session: inside });
      throw new Error('insert refused');
    });
    await expect(failed).rejects.toThrow('insert refused');
    expect(tombstones.docs).toEqual([]);
    expect(database.collection('documents').docs).toEqual([]);
  });

  it('fails the second of two transactions writing one document with a transient WriteConflict, which withTransaction retries', async () => {
    const database = new MingoDatabase();
    await counter(database).insertOne({ _id: 'c', value: 0 });
    const conflicts: unknown[] = [];
    const { promise: firstHasWritten, resolve: firstWrote } = Promise.withResolvers<void>();
    const { promise: firstMayCommit, resolve: releaseFirst } = Promise.withResolvers<void>();
    const first = database.startSession().withTransaction(async (session) => {
      await counter(database).findOneAndUpdate({ _id: 'c' }, { $inc: { value: 1 } }, { session });
      firstWrote();
      await firstMayCommit;
    });
    await firstHasWritten;
    const second = database.startSession().withTransaction(async (session) => {
      try {
        await counter(database).findOneAndUpdate({ _id: 'c' }, { $inc: { value: 10 } }, { session });
      } catch (error) {
        conflicts.push(error);
        releaseFirst();
        throw error;
      }
    });
    await Promise.all([first, second]);
    expect(conflicts.length).toBeGreaterThanOrEqual(1);
    const [conflict] = conflicts;
    expect(conflict).toBeInstanceOf(MongoServerError);
    expect(conflict).toMatchObject({ code: 112, codeName: 'WriteConflict' });
    expect((conflict as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
    // Both increments landed, each once: the retry ran after the first committed.
    expect(await committedValue(database)).toBe(11);
  });

  it('makes a write without the session wait for the transaction holding its document', async () => {
    const database = new MingoDatabase();
    await counter(database).insertOne({ _id: 'c', value: 0 });
    const { promise: held, resolve: release } = Promise.withResolvers<void>();
    const { promise: written, resolve: wrote } = Promise.withResolvers<void>();
    const transaction = database.startSession().withTransaction(async (session) => {
      await counter(database).findOneAndUpdate({ _id: 'c' }, { $set: { value: 1 } }, { session });
      wrote();
      await held;
    });
    await written;
    const outside = counter(database).findOneAndUpdate(
      { _id: 'c' },
      { $inc: { value: 5 } },
      { returnDocument: 'after' },
    );
    release();
    await transaction;
    // Applied after the commit, on the committed value.
    expect((await outside)?.value).toBe(6);
  });
});

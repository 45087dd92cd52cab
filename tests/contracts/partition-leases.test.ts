import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoPartitionLeases } from '../../indexer/adapters/mongo-partition-leases.ts';
import { SqlitePartitionLeases } from '../../indexer/adapters/sqlite-partition-leases.ts';
import { backendsConcern } from '../../server/config/backends.ts';
import { configLoader } from '../../server/config/compose.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { createMongoClient } from '../../subgraphs/documents/adapters/index.ts';
import { MingoDatabase } from '../helpers/mingo-mongo.ts';
import { at, describePartitionLeasesContract } from './partition-leases.contract.ts';

describePartitionLeasesContract('SQLite', async () => {
  const db = new EmbeddedDatabase(':memory:');
  return { leases: new SqlitePartitionLeases(db), cleanup: async () => db.close() };
});

// Here: the adapter's real filters and its upsert, evaluated by mingo (which enforces the unique `_id`).
describePartitionLeasesContract('MongoDB adapter on a mingo-backed collection', async () => {
  const leases = new MongoPartitionLeases({ db: new MingoDatabase().asDb() });
  await leases.ensureIndexes();
  return { leases, cleanup: () => leases.close() };
});

describe('MongoDB lease store specifics (mingo-backed collections)', () => {
  /** The mingo database behind a view that records each call's options, and can make one method fail. */
  function intercepted(mingo: MingoDatabase, failing?: { method: string; error: unknown }) {
    const calls: { method: string; options: unknown }[] = [];
    const db = {
      collection: (name: string) =>
        new Proxy(mingo.collection(name), {
          get(target, property) {
            const value = Reflect.get(target, property, target);
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              calls.push({ method: String(property), options: args.at(-1) });
              if (failing?.method === property) return Promise.reject(failing.error);
              return value.apply(target, args);
            };
          },
        }),
    } as unknown as Pick<Db, 'collection'>;
    return { db, calls };
  }

  it('keeps leases and holders in the collections the operations guide names, stopped holders forgotten by a TTL index', async () => {
    const mingo = new MingoDatabase();
    const leases = new MongoPartitionLeases({ db: mingo.asDb() });
    await leases.ensureIndexes();
    await leases.announce('a', at(0), at(1000));
    await leases.acquire(4, 'a', at(0), at(1000));
    expect(mingo.collection('indexer_holders').docs).toEqual([{ _id: 'a', expiresAt: at(1000) }]);
    expect(mingo.collection('indexer_partition_leases').docs).toEqual([
      { _id: 4, holder: 'a', expiresAt: at(1000) },
    ]);
    expect(mingo.collection('indexer_holders').indexes).toMatchObject([
      { key: { expiresAt: 1 }, expireAfterSeconds: 0 },
    ]);
  });

  it('bounds every operation on the server by operationTimeoutMs', async () => {
    const { db, calls } = intercepted(new MingoDatabase());
    const leases = new MongoPartitionLeases({ db, operationTimeoutMs: 1234 });
    await leases.announce('a', at(0), at(1000));
    await leases.acquire(1, 'a', at(0), at(1000));
    await leases.snapshot(at(0));
    await leases.release(1, 'a');
    expect(calls.map((call) => call.method)).toEqual([
      'replaceOne',
      'findOneAndUpdate',
      'find',
      'find',
      'deleteMany',
    ]);
    for (const call of calls) expect(call.options).toMatchObject({ maxTimeMS: 1234 });
  });

  it('fails an acquire that MongoDB could not answer, rather than reporting the partition as taken', async () => {
    const timedOut = Object.assign(new Error('operation exceeded time limit'), { code: 50 });
    const { db } = intercepted(new MingoDatabase(), { method: 'findOneAndUpdate', error: timedOut });
    const leases = new MongoPartitionLeases({ db });
    await expect(leases.acquire(1, 'a', at(0), at(1000))).rejects.toBe(timedOut);
  });
});

const mongoUrl = process.env.MONGO_URL;
describe.skipIf(!mongoUrl)('real MongoDB (skipped: set MONGO_URL to a replica set to run it)', () => {
  describePartitionLeasesContract('MongoDB server', async () => {
    const config = configLoader(backendsConcern)({
      MONGO_URL: mongoUrl,
    });
    if (!config.mongo) throw new Error('MONGO_URL did not configure MongoDB');
    const client = createMongoClient(config.mongo);
    const db = client.db(`quarry_leases_${randomUUID().slice(0, 8)}`);
    const leases = new MongoPartitionLeases({ db });
    await leases.ensureIndexes();
    return {
      leases,
      async cleanup() {
        await db.dropDatabase();
        await client.close();
      },
    };
  });
});

import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { MongoPartitionLeases } from '../../indexer/adapters/mongo-partition-leases.ts';
import { SqlitePartitionLeases } from '../../indexer/adapters/sqlite-partition-leases.ts';
import { backendsConcern } from '../../server/config/backends.ts';
import { configLoader } from '../../server/config/compose.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { createMongoClient } from '../../subgraphs/documents/adapters/index.ts';
import { MingoDatabase } from '../helpers/mingo-mongo.ts';
import { describePartitionLeasesContract } from './partition-leases.contract.ts';

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

import type { QuarryConfig } from '../../server/config.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { createMongoClient } from '../../subgraphs/documents/adapters/index.ts';
import type { PartitionLeases } from '../partition-claims.ts';
import { MongoPartitionLeases } from './mongo-partition-leases.ts';
import { SqlitePartitionLeases } from './sqlite-partition-leases.ts';

/** The lease store beside the outbox: MongoDB with `MONGO_URL`, else the embedded database file. */
export async function openPartitionLeases(
  config: Pick<QuarryConfig, 'mongo' | 'embeddedDatabasePath'>,
): Promise<{ leases: PartitionLeases; close(): Promise<void> }> {
  if (config.mongo) {
    const client = createMongoClient(config.mongo);
    try {
      const leases = new MongoPartitionLeases({
        db: client.db(config.mongo.database),
        operationTimeoutMs: config.mongo.timeoutMs,
      });
      await leases.ensureIndexes();
      return { leases, close: () => client.close() };
    } catch (error) {
      await client.close();
      throw error;
    }
  }
  const database = new EmbeddedDatabase(config.embeddedDatabasePath);
  return {
    leases: new SqlitePartitionLeases(database),
    async close() {
      database.close();
    },
  };
}

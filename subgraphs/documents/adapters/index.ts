import { MongoClient, MongoServerSelectionError } from 'mongodb';
import type { MongoConfig, QuarryConfig } from '../../../server/config.ts';
import type { DeadLetterStore, TombstonePruning } from '../../../server/documents/model.ts';
import { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import { type Backend, openOnClient } from '../../../server/open-backend.ts';
import type { TenantErasure } from '../../../server/tenants/erasure.ts';
import type { DocumentScan, DocumentStore } from '../document-store.ts';
import { MongoDocumentStore } from './mongo-document-store.ts';
import { SqliteDocumentStore } from './sqlite-document-store.ts';

export interface OpenedDocumentStore {
  store: DocumentStore & DocumentScan & DeadLetterStore & TombstonePruning & TenantErasure;
  /** Closes the store and the client or database it opened. */
  close(): Promise<void>;
}

/** The MongoDB client as configuration says: fail fast rather than queue behind an unreachable server. */
export function createMongoClient(config: MongoConfig): MongoClient {
  return new MongoClient(config.url, {
    appName: 'quarry',
    maxPoolSize: config.maxPoolSize,
    serverSelectionTimeoutMS: config.serverSelectionTimeoutMs,
    connectTimeoutMS: config.serverSelectionTimeoutMs,
    // The driver's client-side timeoutMS is deprecated and ignored in this major, so the bounds are:
    // waiting for a pooled connection, the server-side maxTimeMS the store puts on every operation,
    // and a socket timeout as the backstop for a server that stops answering altogether.
    waitQueueTimeoutMS: config.timeoutMs,
    socketTimeoutMS: config.timeoutMs * 2,
    // Reads are retried by the documents-store policy; the driver's own retry would multiply its attempts.
    retryReads: false,
  });
}

/** MongoDB as a failed start names it: a client that selected no server in time found it not answering. */
const mongoBackend = (url: string): Backend => ({
  name: 'MongoDB',
  variable: 'MONGO_URL',
  url,
  unreachable: [MongoServerSelectionError],
});

/** The document store that configuration selects (`MONGO_URL` means MongoDB), and how to release it. */
export async function openDocumentStore(
  config: Pick<QuarryConfig, 'mongo' | 'embeddedDatabasePath'>,
): Promise<OpenedDocumentStore> {
  const { mongo } = config;
  if (mongo) {
    const client = createMongoClient(mongo);
    const { adapter: store, close } = await openOnClient(client, mongoBackend(mongo.url), async () => {
      const store = new MongoDocumentStore({
        client,
        db: client.db(mongo.database),
        operationTimeoutMs: mongo.timeoutMs,
      });
      await store.ensureIndexes();
      return store;
    });
    return { store, close };
  }
  const database = new EmbeddedDatabase(config.embeddedDatabasePath);
  const store = new SqliteDocumentStore(database);
  return {
    store,
    async close() {
      await store.close();
      database.close();
    },
  };
}

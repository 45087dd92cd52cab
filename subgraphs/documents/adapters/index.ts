import type { QuarryConfig } from '../../../server/config.ts';
import { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import type { DocumentStore } from '../document-store.ts';
import { SqliteDocumentStore } from './sqlite-document-store.ts';

/** The document store that configuration selects, and how to release what it opened. */
export function openDocumentStore(config: QuarryConfig): { store: DocumentStore; close(): Promise<void> } {
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

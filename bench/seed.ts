import { EmbeddedDatabase } from '../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../subgraphs/documents/adapters/sqlite-document-store.ts';
import { SqliteSearchIndex } from '../subgraphs/search/adapters/sqlite-search-index.ts';
import type { GeneratedDocument } from './corpus.ts';

export interface SeedResult {
  documents: number;
  seconds: number;
}

/**
 * Writes documents (the corpus, then the probe tenants) through the real adapters in this process: each document
 * through `DocumentStore.create` (document and outbox row in one
 * transaction), then the outbox into the index through `SearchIndex.apply`,
 * exactly as the indexer would, only without HTTP and without polling. That
 * is far faster than GraphQL mutations and leaves the same database behind.
 */
export async function seedDocuments(
  databasePath: string,
  documents: Iterable<GeneratedDocument>,
  batchSize = 5000,
): Promise<SeedResult> {
  const started = performance.now();
  const database = new EmbeddedDatabase(databasePath);
  const store = new SqliteDocumentStore(database);
  const index = new SqliteSearchIndex(database);
  let count = 0;
  try {
    const drain = async () => {
      for (
        let changes = await store.pull(batchSize);
        changes.length > 0;
        changes = await store.pull(batchSize)
      ) {
        await index.apply(changes);
        await store.acknowledge(changes);
      }
    };
    for (const document of documents) {
      const { tenantId, id, ...fields } = document;
      await store.create(tenantId, fields, id);
      count += 1;
      // Keeps the outbox short, so pull's ORDER BY never walks a huge table.
      if (count % batchSize === 0) await drain();
    }
    await drain();
  } finally {
    await store.close();
    await index.close();
    database.close();
  }
  return { documents: count, seconds: (performance.now() - started) / 1000 };
}

import type { QuarryConfig } from '../../../server/config.ts';
import { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import type { SearchIndex } from '../search-index.ts';
import { SqliteSearchIndex } from './sqlite-search-index.ts';

/** The search index that configuration selects, and how to release what it opened. */
export function openSearchIndex(config: QuarryConfig): { index: SearchIndex; close(): Promise<void> } {
  const database = new EmbeddedDatabase(config.embeddedDatabasePath);
  const index = new SqliteSearchIndex(database);
  return {
    index,
    async close() {
      await index.close();
      database.close();
    },
  };
}

import { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import { serveWorkerCalls } from '../../../server/embedded/worker-host.ts';
import { SqliteSearchIndex } from './sqlite-search-index.ts';
import type { SqliteSearchWorkerInput } from './sqlite-search-worker-pool.ts';

// One search worker: its own read-only connection and index, answering the pool's searches and suggestions.
serveWorkerCalls(({ databasePath }: SqliteSearchWorkerInput) => {
  const index = new SqliteSearchIndex(new EmbeddedDatabase(databasePath, { readOnly: true }));
  return {
    search: (request) => index.search(request),
    suggest: (tenantId, prefix, first) => index.suggest(tenantId, prefix, first),
  };
});

import { readFileSync } from 'node:fs';
import { Client, errors } from '@elastic/elasticsearch';
import type { ElasticsearchConfig, QuarryConfig } from '../../../server/config.ts';
import type { TombstonePruning } from '../../../server/documents/model.ts';
import { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import type { OperationalEvents } from '../../../server/observability/events.ts';
import { type Backend, openOnClient } from '../../../server/open-backend.ts';
import type { TenantErasure } from '../../../server/tenants/erasure.ts';
import type { SearchIndex } from '../search-index.ts';
import type { SynonymStore } from '../synonyms.ts';
import { ElasticsearchSearchIndex } from './elasticsearch-search-index.ts';
import { elasticsearchNames, ensureElasticsearchLayout } from './elasticsearch-setup.ts';
import { SqliteSearchWorkerPool } from './sqlite-search-worker-pool.ts';

/** The Elasticsearch client as configuration says: a bounded wait per request and a bounded number of retries. */
export function createElasticsearchClient(config: ElasticsearchConfig): Client {
  return new Client({
    node: config.url,
    requestTimeout: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    ...(config.apiKey ? { auth: { apiKey: config.apiKey } } : {}),
    ...(config.caPath ? { tls: { ca: readFileSync(config.caPath) } } : {}),
  });
}

/** Elasticsearch as a failed start names it: no connection, or no answer within the request timeout. */
const elasticsearchBackend = (url: string): Backend => ({
  name: 'Elasticsearch',
  variable: 'ELASTICSEARCH_URL',
  url,
  unreachable: [errors.ConnectionError, errors.TimeoutError],
});

/** The search index that configuration selects (`ELASTICSEARCH_URL` means Elasticsearch), and how to release it. */
export async function openSearchIndex(
  config: Pick<QuarryConfig, 'elasticsearch' | 'embeddedDatabasePath'> & {
    search: Pick<QuarryConfig['search'], 'workers' | 'queryTimeoutMs' | 'queueTimeoutMs'>;
  },
  /** `writes` for a process that only applies changes (the indexer): it starts no search workers. */
  use: 'reads' | 'writes' = 'reads',
  /** Where the embedded index's lost search workers are counted. */
  events?: Pick<OperationalEvents, 'workerLost'>,
): Promise<{
  index: SearchIndex & SynonymStore & TenantErasure & TombstonePruning;
  close(): Promise<void>;
}> {
  const { elasticsearch } = config;
  if (elasticsearch) {
    const client = createElasticsearchClient(elasticsearch);
    const backend = elasticsearchBackend(elasticsearch.url);
    const { adapter: index, close } = await openOnClient(client, backend, async () => {
      const names = elasticsearchNames(elasticsearch.indexPrefix);
      // Idempotent, so every service may run it at startup; `npm run es:setup` does the same explicitly.
      await ensureElasticsearchLayout(client, names, elasticsearch);
      return new ElasticsearchSearchIndex({
        client,
        names,
        pointInTimeKeepAliveSeconds: elasticsearch.pointInTimeKeepAliveSeconds,
      });
    });
    return { index, close };
  }
  const database = new EmbeddedDatabase(config.embeddedDatabasePath);
  const index = new SqliteSearchWorkerPool({
    database,
    workers: config.search.workers,
    deadlineMs: config.search.queryTimeoutMs,
    queueTimeoutMs: config.search.queueTimeoutMs,
    events,
  });
  // A writer-only process never searches; a reader has its workers ready before it takes requests.
  if (use === 'reads') {
    await index.start().catch(async (error: unknown) => {
      await index.close();
      database.close();
      throw error;
    });
  }
  return {
    index,
    async close() {
      await index.close();
      database.close();
    },
  };
}

import { Client } from '@elastic/elasticsearch';
import type { ElasticsearchConfig, QuarryConfig } from '../../../server/config.ts';
import { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import type { SearchIndex } from '../search-index.ts';
import { ElasticsearchSearchIndex } from './elasticsearch-search-index.ts';
import { elasticsearchNames, ensureElasticsearchLayout } from './elasticsearch-setup.ts';
import { SqliteSearchIndex } from './sqlite-search-index.ts';

/** The Elasticsearch client as configuration says: a bounded wait per request and a bounded number of retries. */
export function createElasticsearchClient(config: ElasticsearchConfig): Client {
  return new Client({
    node: config.url,
    requestTimeout: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    ...(config.apiKey ? { auth: { apiKey: config.apiKey } } : {}),
  });
}

/** The search index that configuration selects (`ELASTICSEARCH_URL` means Elasticsearch), and how to release it. */
export async function openSearchIndex(
  config: QuarryConfig,
): Promise<{ index: SearchIndex; close(): Promise<void> }> {
  if (config.elasticsearch) {
    const client = createElasticsearchClient(config.elasticsearch);
    try {
      const names = elasticsearchNames(config.elasticsearch.indexPrefix);
      // Idempotent, so every service may run it at startup; `npm run es:setup` does the same explicitly.
      await ensureElasticsearchLayout(client, names, config.elasticsearch);
      const index = new ElasticsearchSearchIndex({ client, names });
      return {
        index,
        async close() {
          await index.close();
          await client.close();
        },
      };
    } catch (error) {
      await client.close();
      throw error;
    }
  }
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

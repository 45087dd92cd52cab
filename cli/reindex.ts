import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { ConfigError } from '../server/config.ts';
import { openDocumentStore } from '../subgraphs/documents/adapters/index.ts';
import { ElasticsearchReindexTarget } from '../subgraphs/search/adapters/elasticsearch-reindex.ts';
import { ElasticsearchSearchIndex } from '../subgraphs/search/adapters/elasticsearch-search-index.ts';
import {
  elasticsearchNames,
  ensureElasticsearchLayout,
} from '../subgraphs/search/adapters/elasticsearch-setup.ts';
import { createElasticsearchClient } from '../subgraphs/search/adapters/index.ts';
import { runReindex } from '../subgraphs/search/reindex.ts';
import { loadBackendsConfig } from './config.ts';
import { runCli } from './run-cli.ts';
import { tenantOption } from './tenant-option.ts';

const program = new Command('reindex')
  .description(
    'Rebuild the Elasticsearch index from the document store: a new index and an alias swap, or one tenant in place. Resumes after a crash.',
  )
  .option('--tenant <id>', 'rebuild only this tenant', tenantOption)
  .option('--batch-size <n>', 'documents per batch', '500')
  .parse();

const options = program.opts<{ tenant?: string; batchSize: string }>();

async function main() {
  const config = loadBackendsConfig();
  if (!config.elasticsearch) {
    throw new ConfigError(
      'Invalid configuration:\n  ELASTICSEARCH_URL: required by reindex (the embedded index is rebuilt by the indexer from the outbox)',
    );
  }
  const client = createElasticsearchClient(config.elasticsearch);
  const documents = await openDocumentStore(config);
  const bar = new SingleBar({
    format: 'reindex [{bar}] {percentage}% | {value}/{total} documents | {eta_formatted} left',
    stream: process.stderr,
  });
  try {
    const names = elasticsearchNames(config.elasticsearch.indexPrefix);
    await ensureElasticsearchLayout(client, names, config.elasticsearch);
    const index = new ElasticsearchSearchIndex({ client, names });
    const { copied, resumed } = await runReindex({
      scan: documents.store,
      target: new ElasticsearchReindexTarget({ client, names, index }),
      ...(options.tenant === undefined ? {} : { tenantId: options.tenant }),
      batchSize: Math.max(1, Number(options.batchSize) || 500),
      progress: bar,
    });
    console.error(`reindexed ${copied} documents${resumed ? ' (resumed an interrupted run)' : ''}`);
  } finally {
    bar.stop();
    await documents.close();
    await client.close();
  }
}

await runCli(main);

import { ConfigError } from '../server/config.ts';
import {
  elasticsearchNames,
  ensureElasticsearchLayout,
} from '../subgraphs/search/adapters/elasticsearch-setup.ts';
import { createElasticsearchClient } from '../subgraphs/search/adapters/index.ts';
import { loadBackendsConfig } from './config.ts';
import { runCli } from './run-cli.ts';

/** Creates the ILM policy, index template, first backing index and both aliases; safe to run again. */
async function main() {
  const config = loadBackendsConfig();
  if (!config.elasticsearch) {
    throw new ConfigError('Invalid configuration:\n  ELASTICSEARCH_URL: required by es:setup');
  }
  const client = createElasticsearchClient(config.elasticsearch);
  try {
    const names = elasticsearchNames(config.elasticsearch.indexPrefix);
    await ensureElasticsearchLayout(client, names, config.elasticsearch);
    console.log(
      `ready: policy ${names.policy}, template ${names.template} (${names.indexPattern}), read alias ${names.readAlias}, write alias ${names.writeAlias}`,
    );
  } finally {
    await client.close();
  }
}

await runCli(main);

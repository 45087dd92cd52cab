import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../server/config.ts';
import { createMongoClient } from '../../subgraphs/documents/adapters/index.ts';
import { elasticsearchNames } from '../../subgraphs/search/adapters/elasticsearch-setup.ts';
import { createElasticsearchClient } from '../../subgraphs/search/adapters/index.ts';

/**
 * When the test process has MONGO_URL / ELASTICSEARCH_URL (CI does), every
 * test stack runs on those servers, each in its own database and index
 * prefix, and removes them when it stops. Otherwise this adds nothing and the
 * stack stays embedded.
 */
export function productionBackendEnvironment(): { env: Record<string, string>; drop(): Promise<void> } {
  const env: Record<string, string> = {};
  const suffix = randomUUID().slice(0, 8);
  if (process.env.MONGO_URL) {
    env.MONGO_URL = process.env.MONGO_URL;
    env.MONGO_DATABASE = `quarry_e2e_${suffix}`;
  }
  if (process.env.ELASTICSEARCH_URL) {
    env.ELASTICSEARCH_URL = process.env.ELASTICSEARCH_URL;
    env.ELASTICSEARCH_INDEX_PREFIX = `quarry-e2e-${suffix}`;
    env.ELASTICSEARCH_REPLICAS = '0';
  }
  return {
    env,
    async drop() {
      const config = loadConfig({
        JWT_JWKS_FILE: 'unused',
        JWT_ISSUER: 'unused',
        JWT_AUDIENCE: 'unused',
        ...env,
      });
      if (config.mongo) {
        const client = createMongoClient(config.mongo);
        await client.db(config.mongo.database).dropDatabase();
        await client.close();
      }
      if (config.elasticsearch) {
        const client = createElasticsearchClient(config.elasticsearch);
        const names = elasticsearchNames(config.elasticsearch.indexPrefix);
        await client.indices.delete({
          index: [names.indexPattern, names.synonymsIndex],
          ignore_unavailable: true,
        });
        await client.indices.deleteIndexTemplate({ name: names.template }, { ignore: [404] });
        await client.ilm.deleteLifecycle({ name: names.policy }, { ignore: [404] });
        await client.close();
      }
    },
  };
}

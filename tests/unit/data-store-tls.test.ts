import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openCache } from '../../server/cache/index.ts';
import { backendsConcern } from '../../server/config/backends.ts';
import { cacheConcern } from '../../server/config/cache.ts';
import { configLoader } from '../../server/config/compose.ts';
import { createLogger } from '../../server/logger.ts';
import { createResilience } from '../../server/resilience/policy.ts';
import { createMongoClient } from '../../subgraphs/documents/adapters/index.ts';
import { createElasticsearchClient } from '../../subgraphs/search/adapters/index.ts';

/** TLS settings must reach the drivers; building a client connects nothing (Redis is told not to). */
const folder = mkdtempSync(join(tmpdir(), 'quarry-data-tls-'));
const caFile = join(folder, 'ca.crt');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nprivate CA\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const config = configLoader(
  backendsConcern,
  cacheConcern,
)({
  MONGO_URL: `mongodb://mongo.internal:27017/?replicaSet=rs0&tls=true&tlsCAFile=${encodeURIComponent(caFile)}`,
  ELASTICSEARCH_URL: 'https://elasticsearch.internal:9200',
  ELASTICSEARCH_CA_FILE: caFile,
  // A closed loopback port: the client starts connecting at once, and nothing must answer.
  REDIS_URL: 'rediss://127.0.0.1:1',
  REDIS_CA_FILE: caFile,
});

it('passes MongoDB TLS options from MONGO_URL to the driver', async () => {
  const client = createMongoClient(config.mongo as NonNullable<typeof config.mongo>);
  expect(client.options.tls).toBe(true);
  expect(client.options.tlsCAFile).toBe(caFile);
  await client.close();
});

it('gives the Elasticsearch client the CA from ELASTICSEARCH_CA_FILE', async () => {
  const client = createElasticsearchClient(config.elasticsearch as NonNullable<typeof config.elasticsearch>);
  const [connection] = client.connectionPool.connections;
  expect(connection?.url.protocol).toBe('https:');
  expect(String(connection?.tls?.ca)).toContain('private CA');
  await client.close();
});

it('gives the Redis client TLS with the CA from REDIS_CA_FILE', async () => {
  const opened = openCache(config.cache, createResilience(), createLogger({ level: 'silent' }));
  expect(String(opened.redis?.options.tls?.ca)).toContain('private CA');
  await opened.close();
});

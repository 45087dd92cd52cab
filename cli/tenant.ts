import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { createRedisClient } from '../server/cache/index.ts';
import { createLogger } from '../server/logger.ts';
import { eraseTenant } from '../server/tenants/erasure.ts';
import { openDocumentStore } from '../subgraphs/documents/adapters/index.ts';
import { exportDocuments, exportLine } from '../subgraphs/documents/export.ts';
import { openSearchIndex } from '../subgraphs/search/adapters/index.ts';
import { loadBackendsConfig, loadErasureConfig } from './config.ts';
import { runCli } from './run-cli.ts';
import { tenantOption } from './tenant-option.ts';

async function exportTenant(tenantId: string, file: string) {
  const config = loadBackendsConfig();
  const documents = await openDocumentStore(config);
  const output = file === '-' ? process.stdout : createWriteStream(file);
  const bar = new SingleBar({ format: 'export {value}/{total} documents', stream: process.stderr });
  try {
    bar.start(await documents.store.count(tenantId), 0);
    let written = 0;
    for await (const document of exportDocuments(documents.store, tenantId)) {
      // Waits whenever the file falls behind, so memory holds one page whatever the tenant's size.
      if (!output.write(`${exportLine(document)}\n`)) await once(output, 'drain');
      bar.update(++written);
    }
    bar.stop();
    console.error(`exported ${written} documents of ${tenantId}`);
  } finally {
    bar.stop();
    if (output !== process.stdout) await new Promise<void>((resolve) => output.end(() => resolve()));
    await documents.close();
  }
}

async function eraseTenantData(tenantId: string, requestedBy: string) {
  const config = loadErasureConfig();
  const logger = createLogger({ level: 'info', service: 'tenant-cli' });
  const documents = await openDocumentStore(config);
  const search = await openSearchIndex(config, 'writes');
  const redis = config.cache.redisUrl
    ? createRedisClient({ url: config.cache.redisUrl, logger, commandTimeoutMs: 5000 })
    : undefined;
  try {
    if (redis && redis.status !== 'ready') await once(redis, 'ready');
    await eraseTenant({
      tenantId,
      requestedBy,
      documents: documents.store,
      search: search.index,
      redis,
      logger,
      // An indexer batch pulled just before the outbox went is applied within a poll and a backend timeout.
      settleMs: config.indexer.pollIntervalMs + config.resilience.timeoutMs('search-index'),
    });
  } finally {
    redis?.disconnect();
    await search.close();
    await documents.close();
  }
}

const program = new Command('tenant').description(
  "Manage one tenant's data: export it, or erase it everywhere",
);

program
  .command('export')
  .description(
    'Write every live document of the tenant as JSONL in the import format (- for standard output)',
  )
  .argument('<tenant>', 'tenant id', tenantOption)
  .argument('<file>', 'where to write, or - for standard output')
  .action(async (tenant: string, file: string) => runCli(() => exportTenant(tenant, file)));

program
  .command('erase')
  .description(
    "Remove the tenant from the documents store, the outbox, the search index and Redis. Idempotent: run it again to finish an interrupted erasure. Revoke the tenant's tokens first.",
  )
  .argument('<tenant>', 'tenant id', tenantOption)
  .requiredOption('--requested-by <name>', 'who asked for the erasure, for the audit log')
  .requiredOption('--yes', 'confirm: the data cannot be recovered')
  .action(async (tenant: string, options: { requestedBy: string }) =>
    runCli(() => eraseTenantData(tenant, options.requestedBy)),
  );

await program.parseAsync();

import { parseArgs } from 'node:util';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { runMain } from '../../server/process.ts';
import { startDocumentsApp } from '../../subgraphs/documents/app.ts';
import { startIndexerApp } from '../../subgraphs/search/app.ts';
import { type BackendFault, createFaultSwitch } from '../helpers/faults.ts';
import { refreshingSearchIndex } from '../helpers/refreshing-search-index.ts';

/** What the checker sends a service over IPC: a backend fault to switch to. */
export interface BackendFaultMessage {
  fault: BackendFault;
  delayMs?: number;
}

/**
 * The documents service or the indexer as the checker runs them: the
 * production app from configuration, with two test seams the production
 * entry files do not have. The documents store answers through a fault
 * switch the checker sets over IPC (a slow backend). The indexer's embedded
 * index makes writes visible only at its next refresh, as Elasticsearch does
 * (`--refresh-ms`, 0 for none; a real Elasticsearch has its own).
 */
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'refresh-ms': { type: 'string', default: '0' } },
});
const service = positionals[0];
const refreshIntervalMs = Number(values['refresh-ms']);

// The checker is gone (killed with its test worker, which skips its exit hook): so is this service.
process.once('disconnect', () => process.exit(1));

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, service: service ?? 'unknown' });
  if (service === 'documents') {
    const faults = createFaultSwitch();
    process.on('message', (message: BackendFaultMessage) => {
      if (message.fault === 'none') faults.clear();
      else faults.set(message.fault, { delayMs: message.delayMs });
    });
    // The channel must not keep a stopping service alive.
    process.channel?.unref();
    const app = await startDocumentsApp({ config, logger, decorateStore: (store) => faults.wrap(store) });
    return async () => {
      faults.clear();
      await app.stop();
    };
  }
  if (service === 'indexer') {
    const delayed = refreshIntervalMs > 0 && !config.elasticsearch;
    const app = await startIndexerApp({
      config,
      logger,
      decorateIndex: delayed
        ? (index) => refreshingSearchIndex(index, { refreshIntervalMs, waitForRefresh: true })
        : undefined,
    });
    return () => app.stop();
  }
  throw new Error(
    `usage: node tests/consistency/service.ts documents|indexer [--refresh-ms N] (got ${service})`,
  );
});

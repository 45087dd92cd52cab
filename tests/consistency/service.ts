import { parseArgs } from 'node:util';
import { loadDocumentsConfig, loadIndexerConfig } from '../../server/config.ts';
import { runService } from '../../server/run-service.ts';
import { type BackendFault, createFaultSwitch } from '../helpers/faults.ts';
import { refreshingSearchIndex } from '../helpers/refreshing-search-index.ts';

/** What the checker sends a service over IPC: a backend fault to switch to. */
export interface BackendFaultMessage {
  fault: BackendFault;
  delayMs?: number;
}

/**
 * The documents service or the indexer as the checker runs them: the
 * production service (`runService`, as the entry files), with two test seams
 * the entry files do not have. The documents store answers through a fault
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

if (service === 'documents') {
  const faults = createFaultSwitch();
  process.on('message', (message: BackendFaultMessage) => {
    if (message.fault === 'none') faults.clear();
    else faults.set(message.fault, { delayMs: message.delayMs });
  });
  // The channel must not keep a stopping service alive.
  process.channel?.unref();
  runService({
    name: 'documents',
    loadConfig: loadDocumentsConfig,
    importApp: async () => {
      const { startDocumentsApp } = await import('../../subgraphs/documents/app.ts');
      return (dependencies) =>
        startDocumentsApp({ ...dependencies, decorateStore: (store) => faults.wrap(store) });
    },
    listening: 'documents subgraph listening',
  });
} else if (service === 'indexer') {
  runService({
    name: 'indexer',
    loadConfig: loadIndexerConfig,
    importApp: async () => {
      const { startIndexerApp } = await import('../../indexer/app.ts');
      return (dependencies) =>
        startIndexerApp({
          ...dependencies,
          decorateIndex:
            refreshIntervalMs > 0 && !dependencies.config.elasticsearch
              ? (index) => refreshingSearchIndex(index, { refreshIntervalMs, waitForRefresh: true })
              : undefined,
        });
    },
    listening: 'indexer running; metrics and health routes listening',
  });
} else {
  console.error(
    `usage: node tests/consistency/service.ts documents|indexer [--refresh-ms N] (got ${service})`,
  );
  process.exit(2);
}

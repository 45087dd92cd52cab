import { startGatewayApp } from '../gateway/app.ts';
import type { ExplorerOptions } from '../gateway/explorer/explorer.ts';
import { startIndexerApp } from '../indexer/app.ts';
import type { Indexer } from '../indexer/indexer.ts';
import { createServiceVerifier } from '../server/auth/cached-verifier.ts';
import { createMemoryCache } from '../server/cache/index.ts';
import type { QuarryConfig } from '../server/config.ts';
import type { Logger } from '../server/logger.ts';
import type { OperationalEvents } from '../server/observability/events.ts';
import type { ErasureJobs } from '../server/tenants/erasure.ts';
import { startDocumentsApp } from '../subgraphs/documents/app.ts';
import type { DocumentStore } from '../subgraphs/documents/document-store.ts';
import { startSearchApp } from '../subgraphs/search/app.ts';
import type { SearchIndex } from '../subgraphs/search/search-index.ts';

export interface StackOptions {
  config: QuarryConfig;
  logger: Logger;
  /** Wraps the backend adapter, for instance to count backend calls or inject faults in a test. */
  decorateStore?: (store: DocumentStore) => DocumentStore;
  decorateIndex?: (index: SearchIndex) => SearchIndex;
  /**
   * Where the gateway reaches a subgraph, given where it listens: tests put a
   * fault proxy in between. Default: straight to it.
   */
  routeSubgraph?: (name: 'documents' | 'search', url: string) => string | Promise<string>;
  events?: OperationalEvents;
  /** The gateway's development explorer (a demo token for its headers editor). */
  explorer?: ExplorerOptions;
}

export interface RunningStack {
  gatewayUrl: string;
  documentsUrl: string;
  searchUrl: string;
  indexerUrl: string;
  store: DocumentStore;
  /** Tenant erasures the documents service runs in the background. */
  erasures: ErasureJobs;
  index: SearchIndex;
  indexer: Indexer;
  stop(): Promise<void>;
}

/**
 * Gateway, both subgraphs and the indexer in one process: what `npm start`
 * runs for development, and what the end-to-end tests run on port 0. In
 * production each runs as its own process (see the `main.ts` files), wired
 * by the same `start*App` functions. Without REDIS_URL the services share
 * one in-process cache, so the indexer's invalidations reach the search
 * service as they would through Redis.
 */
export async function startStack({
  config,
  logger,
  decorateStore,
  decorateIndex,
  routeSubgraph = (_name, url) => url,
  events,
  explorer,
}: StackOptions): Promise<RunningStack> {
  const verifier = await createServiceVerifier(config.jwt, logger.child({ service: 'auth' }));
  const memoryCache = createMemoryCache({
    maxEntries: config.cache.memoryMaxEntries,
    maxBytes: config.cache.memoryMaxBytes,
  });
  // If a later service fails to start, the ones already running are stopped: no port or timer is left behind.
  const started: { stop(): Promise<void> }[] = [];
  const start = async <T extends { stop(): Promise<void> }>(app: Promise<T>): Promise<T> => {
    const running = await app;
    started.unshift(running);
    return running;
  };
  // What every service of the one process shares; each adds its own logger. METRICS_PORT names one
  // port for one service's process: in this one process, metrics stay on each service's own port.
  const shared = {
    config: { ...config, metrics: { ...config.metrics, listener: undefined } },
    memoryCache,
    events,
  };
  const loggerOf = (service: string) => logger.child({ service });
  try {
    const documents = await start(
      startDocumentsApp({ ...shared, verifier, decorateStore, logger: loggerOf('documents') }),
    );
    const search = await start(
      startSearchApp({ ...shared, verifier, decorateIndex, logger: loggerOf('search') }),
    );
    const indexer = await start(startIndexerApp({ ...shared, logger: loggerOf('indexer') }));
    const gateway = await start(
      startGatewayApp({
        ...shared,
        verifier,
        // Port 0 (tests) means the subgraphs' real ports are only known now.
        subgraphUrls: {
          documents: await routeSubgraph('documents', documents.url),
          search: await routeSubgraph('search', search.url),
        },
        logger: loggerOf('gateway'),
        explorer,
      }),
    );
    return {
      gatewayUrl: gateway.url,
      documentsUrl: documents.url,
      searchUrl: search.url,
      indexerUrl: indexer.url,
      store: documents.store,
      erasures: documents.erasures,
      index: search.index,
      indexer: indexer.indexer,
      async stop() {
        await gateway.stop();
        await Promise.all([documents.stop(), search.stop()]);
        await indexer.stop();
      },
    };
  } catch (error) {
    for (const running of started) await running.stop().catch(() => {});
    throw error;
  }
}

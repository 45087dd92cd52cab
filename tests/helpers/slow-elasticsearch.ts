import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestStack, type TestStack } from './test-stack.ts';

/** One call the server received: when it arrived, and whether its client has closed it yet. */
export interface HeldCall {
  method: string;
  path: string;
  startedAt: number;
  closedAt?: number;
}

export interface SlowElasticsearch {
  url: string;
  /** Every call held so far, in arrival order. */
  calls: HeldCall[];
  close(): Promise<void>;
}

/** What every service sends at startup (`ensureElasticsearchLayout`, mappings included), answered at once. */
const layoutCall = /^\/(_ilm|_index_template|_alias)\/|^\/[^/]+\/_mapping$/;
/** The indexer's tombstone pruning, no client's request: answered at once, as having found nothing. */
const maintenanceCall = /^\/[^/]+\/_delete_by_query\b/;

/**
 * An HTTP server that answers the layout calls Quarry makes at startup, and
 * the indexer's tombstone pruning, as Elasticsearch would, and holds every
 * other call (opening a point in time, a search) open until its client gives
 * up, recording when each arrived and when its connection closed. Closing a point in time is answered, as it is
 * clean-up. A stand-in for a backend too slow to answer, not for
 * Elasticsearch's behaviour.
 */
export async function startSlowElasticsearch(): Promise<SlowElasticsearch> {
  const calls: HeldCall[] = [];
  const server: Server = createServer((request, response) => {
    // The client refuses answers without it.
    response.setHeader('x-elastic-product', 'Elasticsearch');
    response.setHeader('content-type', 'application/json');
    const path = request.url ?? '/';
    request.resume();
    if (layoutCall.test(path) || maintenanceCall.test(path) || request.method === 'DELETE') {
      request.once('end', () =>
        response.end(JSON.stringify({ acknowledged: true, succeeded: true, deleted: 0 })),
      );
      return;
    }
    const held: HeldCall = { method: request.method ?? 'GET', path, startedAt: performance.now() };
    calls.push(held);
    response.once('close', () => {
      held.closedAt = performance.now();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface StackOnSlowElasticsearch {
  backend: SlowElasticsearch;
  stack: TestStack;
  stop(): Promise<void>;
}

/**
 * A whole stack searching a `startSlowElasticsearch` backend, with `env` on
 * top. Only an abort can end a held call: the backend client's own timeout is
 * far past any test.
 */
export async function startStackOnSlowElasticsearch(
  env: Record<string, string>,
): Promise<StackOnSlowElasticsearch> {
  const backend = await startSlowElasticsearch();
  const stack = await startTestStack({
    env: { ELASTICSEARCH_URL: backend.url, ELASTICSEARCH_REQUEST_TIMEOUT_MS: '60000', ...env },
  }).catch(async (error: unknown) => {
    await backend.close();
    throw error;
  });
  return {
    backend,
    stack,
    stop: async () => {
      await stack.stop();
      await backend.close();
    },
  };
}

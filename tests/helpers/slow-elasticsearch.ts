import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One search the server received: when it arrived, and whether its client has closed it yet. */
export interface HeldSearch {
  startedAt: number;
  closedAt?: number;
}

export interface SlowElasticsearch {
  url: string;
  /** Every `_search` received so far, in arrival order. */
  searches: HeldSearch[];
  close(): Promise<void>;
}

/**
 * An HTTP server that answers the layout calls Quarry makes at startup as
 * Elasticsearch would, and holds every search open until its client gives up,
 * recording when each arrived and when its connection closed. A stand-in for
 * a backend too slow to answer, not for Elasticsearch's behaviour.
 */
export async function startSlowElasticsearch(): Promise<SlowElasticsearch> {
  const searches: HeldSearch[] = [];
  const server: Server = createServer((request, response) => {
    // The client refuses answers without it.
    response.setHeader('x-elastic-product', 'Elasticsearch');
    response.setHeader('content-type', 'application/json');
    if (request.url?.includes('/_search')) {
      const held: HeldSearch = { startedAt: performance.now() };
      searches.push(held);
      request.resume();
      response.once('close', () => {
        held.closedAt = performance.now();
      });
      return;
    }
    request.resume();
    request.once('end', () => response.end(JSON.stringify({ acknowledged: true })));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    searches,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

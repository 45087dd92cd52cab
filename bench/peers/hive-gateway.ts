/**
 * Peer 2: Hive Gateway's runtime (`createGatewayRuntime`, the engine inside
 * `@graphql-hive/gateway`) on a plain `node:http` server, with the same
 * supergraph file, forwarding the caller's Authorization header, configured
 * as its users would in production:
 *
 * - HIVE_PLANNER: `js` (default, the runtime's own planner) or `rust`
 *   (`@graphql-hive/router-runtime`, the Rust query planner as a native addon).
 * - HIVE_RESPONSE_CACHE: `off`, `memory` (default) or `redis`: Hive's
 *   `responseCaching` (envelop's `useResponseCache`), keyed per Authorization
 *   header so one tenant is never served another's page, with
 *   RESPONSE_CACHE_TTL_SECONDS as Quarry's; `redis` stores it at REDIS_URL.
 *
 * APQ: Hive documents APQ through `@graphql-yoga/plugin-apq`, whose current
 * release declares a peer dependency on an older `@graphql-tools/utils` than
 * the runtime ships with. The few lines below do the same thing (register on
 * hash plus query, then serve the hash alone) with an in-memory map, as the
 * yoga plugin does by default.
 *
 * Env: PORT, SUPERGRAPH_PATH. Prints one JSON line `{ "url": ... }` when ready.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { unifiedGraphHandler as rustPlanner } from '@graphql-hive/router-runtime';
import InMemoryLRUCache from '@graphql-mesh/cache-inmemory-lru';
import RedisCache from '@graphql-mesh/cache-redis';
import { GraphQLError } from 'graphql';

interface PersistedQueryExtension {
  persistedQuery?: { version?: number; sha256Hash?: string };
}

function useAutomaticPersistedQueries(): GatewayPlugin {
  const store = new Map<string, string>();
  return {
    onParams({ params, setParams }) {
      const hash = (params.extensions as PersistedQueryExtension | undefined)?.persistedQuery?.sha256Hash;
      if (!hash) return;
      if (params.query) {
        if (createHash('sha256').update(params.query).digest('hex') !== hash) {
          throw new GraphQLError('PersistedQueryMismatch', { extensions: { code: 'BAD_REQUEST' } });
        }
        store.set(hash, params.query);
        return;
      }
      const query = store.get(hash);
      if (!query) {
        throw new GraphQLError('PersistedQueryNotFound', {
          extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
        });
      }
      setParams({ ...params, query });
    },
  };
}

const planner = process.env.HIVE_PLANNER ?? 'js';
const responseCache = process.env.HIVE_RESPONSE_CACHE ?? 'memory';
const ttlMs = Number(process.env.RESPONSE_CACHE_TTL_SECONDS ?? 60) * 1000;
if (!['js', 'rust'].includes(planner)) throw new Error(`HIVE_PLANNER must be js or rust, got "${planner}"`);
if (!['off', 'memory', 'redis'].includes(responseCache)) {
  throw new Error(`HIVE_RESPONSE_CACHE must be off, memory or redis, got "${responseCache}"`);
}
if (responseCache === 'redis' && !process.env.REDIS_URL)
  throw new Error('HIVE_RESPONSE_CACHE=redis needs REDIS_URL');

const runtime = createGatewayRuntime({
  supergraph: readFileSync(process.env.SUPERGRAPH_PATH ?? 'schema/supergraph.graphql', 'utf8'),
  ...(planner === 'rust' ? { unifiedGraphHandler: rustPlanner } : {}),
  ...(responseCache === 'off'
    ? {}
    : {
        cache:
          responseCache === 'redis'
            ? new RedisCache({ url: process.env.REDIS_URL, logger: console as never })
            : new InMemoryLRUCache(),
        responseCaching: {
          ttl: ttlMs,
          // Hive caches one global session by default: every tenant would share one page per query.
          session: (request: Request) => request.headers.get('authorization'),
        },
      }),
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') }),
  },
  plugins: () => [useAutomaticPersistedQueries()],
  logging: 'warn',
});
const server = createServer(runtime);
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 4200), '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/graphql` }));

const stop = () => {
  server.close();
  void Promise.resolve(runtime.dispose()).then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

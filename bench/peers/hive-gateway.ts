/**
 * Peer 2: Hive Gateway's runtime (`createGatewayRuntime`, the engine inside
 * `@graphql-hive/gateway`) on a plain `node:http` server, with the same
 * supergraph file, forwarding the caller's Authorization header.
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

const runtime = createGatewayRuntime({
  supergraph: readFileSync(process.env.SUPERGRAPH_PATH ?? 'schema/supergraph.graphql', 'utf8'),
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

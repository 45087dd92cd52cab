import { hash } from 'node:crypto';
import type { ApolloServerPlugin, GraphQLRequest } from '@apollo/server';
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import type { DocumentNode, GraphQLError } from 'graphql';
import type { Principal } from '../../server/auth/jwt-verifier.ts';
import { tenantKey } from '../../server/cache/cache.ts';
import type { StringKeyValueCache } from '../../server/cache/key-value-cache.ts';
import { requestError } from '../../server/errors.ts';
import type { GatewayContext } from '../context.ts';
import type { PersistedOperationStore } from '../persisted-operations/store.ts';

export interface PersistedOperationsOptions {
  store: PersistedOperationStore;
  /**
   * Callers treated as partners besides tokens with `client_type: partner`:
   * matched against the token's `sub`, `azp` and `client_id`: any of them
   * listed makes a partner, so a second claim cannot hide the first. Default none.
   */
  partnerClients?: readonly string[];
  /**
   * Automatic persisted queries, kept per tenant: a hash finds only text its
   * own tenant registered, so sending a hash never tells whether another
   * tenant ran that query. Off when absent (Apollo then answers every id
   * outside the manifest PERSISTED_QUERY_NOT_FOUND).
   */
  apq?: { cache: StringKeyValueCache; ttlSeconds: number };
}

/** Given to Apollo as its APQ cache: every lookup misses and nothing is kept, since the plugin holds them per tenant. */
export const apolloApqCache: StringKeyValueCache = {
  get: async () => undefined,
  set: async () => {},
  delete: async () => true,
};

const dropPersistedQuery = (request: GraphQLRequest) => {
  const { persistedQuery: _resolved, ...rest } = request.extensions ?? {};
  request.extensions = rest;
};

export function isPartner(principal: Principal, partnerClients: readonly string[] = []): boolean {
  if (principal.clientType === 'partner') return true;
  return [principal.subject, ...principal.clientIds].some(
    (id) => id !== undefined && partnerClients.includes(id),
  );
}

export function persistedQueryHash(extensions: Record<string, unknown> | undefined): string | undefined {
  const persisted = extensions?.persistedQuery as { sha256Hash?: unknown } | undefined;
  return typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined;
}

/**
 * Why a partner may not run this request, or nothing when it may (or the
 * caller is not a partner): partners send a manifest id and no query text.
 */
export function partnerRefusal(
  { store, partnerClients = [] }: PersistedOperationsOptions,
  principal: Principal,
  request: { query?: string; persistedId?: string },
): GraphQLError | undefined {
  if (!isPartner(principal, partnerClients)) return undefined;
  if (request.query === undefined && request.persistedId !== undefined) {
    if (store.get(request.persistedId)) return undefined;
    return requestError('PERSISTED_QUERY_NOT_IN_LIST', 'This operation is not in the safelist');
  }
  return requestError(
    'PERSISTED_QUERY_ID_REQUIRED',
    'Partners must send a persisted operation id (extensions.persistedQuery.sha256Hash) without query text',
  );
}

/**
 * Safelisted operations. A request that carries a manifest id and no query
 * text runs the manifest's body, whoever sends it. Partners may send nothing
 * else (the gateway's admission refuses it, see `partnerPolicy`). First-party clients may also send
 * free-form queries and register them through APQ, which this plugin keeps
 * per tenant (`apq`); Apollo's own APQ cache is left empty (`apolloApqCache`).
 *
 * It works in `requestDidStart`, before Apollo's APQ step: it fills in
 * `request.query` and drops the `persistedQuery` extension, so Apollo neither
 * looks the id up in the APQ cache nor writes the body back to it on every
 * call. Parsing and validation are skipped by `persistedDocumentStore` below.
 */
export function usePersistedOperations(
  options: PersistedOperationsOptions,
): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const id = persistedQueryHash(request.extensions);
      if (id === undefined) return;
      const operation = request.query === undefined ? options.store.get(id) : undefined;
      if (operation) {
        request.query = operation.body;
        return dropPersistedQuery(request);
      }
      if (!options.apq) return;
      // Under the tenant's own prefix, like every key of a tenant, so erasing the tenant finds it too.
      const key = tenantKey(contextValue.principal.tenantId, 'apq', id);
      if (request.query === undefined) {
        // Found: run as plain text. Not found: Apollo answers PERSISTED_QUERY_NOT_FOUND from its empty cache.
        const text = await options.apq.cache.get(key);
        if (text !== undefined) {
          request.query = text;
          dropPersistedQuery(request);
        }
      } else if (hash('sha256', request.query, 'hex') === id.toLowerCase()) {
        // A registration; a hash that does not match its text is Apollo's to refuse.
        await options.apq.cache.set(key, request.query, { ttl: options.apq.ttlSeconds });
      }
    },
  };
}

/**
 * Apollo's document store (parsed and validated documents by sha256 of the
 * query text), answering manifest ids from the manifest first. Apollo asks
 * the store before it parses and skips both parsing and validation on a hit,
 * so a persisted operation costs a Map lookup: its body was parsed and
 * validated against the same schema and limits when the manifest loaded.
 * Keys are `<schema hash>:<sha256 of the query>`, and Apollo only consults
 * the store with a hash it computed or verified itself.
 */
export function persistedDocumentStore(
  store: PersistedOperationStore,
  fallback: KeyValueCache<DocumentNode> = new InMemoryLRUCache<DocumentNode>(),
): KeyValueCache<DocumentNode> {
  return {
    async get(key) {
      return store.get(key.slice(key.lastIndexOf(':') + 1))?.document ?? fallback.get(key);
    },
    set: (key, value, options) => fallback.set(key, value, options),
    delete: (key) => fallback.delete(key),
  };
}

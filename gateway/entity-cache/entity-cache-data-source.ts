import { hash } from 'node:crypto';
import type {
  GraphQLDataSource,
  GraphQLDataSourceProcessOptions,
} from '@apollo/gateway/dist/datasources/types.js';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { type DocumentNode, Kind, parse, print } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { GatewayContext } from '../context.ts';
import type { EntityCache, EntityScope } from './entity-cache.ts';

export interface EntityCachingOptions {
  entityCache: EntityCache;
  /** The entity type cached, keyed by `id` alone (`Document`). */
  typename: string;
}

type SubgraphError = NonNullable<GatewayGraphQLResponse['errors']>[number];

/** A representation the cache can key: exactly `{ __typename, id }` of the cached type. */
function entityIds(representations: unknown, typename: string): string[] | undefined {
  if (!Array.isArray(representations) || representations.length === 0) return undefined;
  const ids: string[] = [];
  for (const representation of representations) {
    if (typeof representation !== 'object' || representation === null) return undefined;
    const { __typename, id, ...rest } = representation as Record<string, unknown>;
    if (__typename !== typename || typeof id !== 'string' || Object.keys(rest).length > 0) return undefined;
    ids.push(id);
  }
  return ids;
}

/**
 * A hash of an entity fetch's query with its operation name left out (the
 * gateway names each fetch after the client's operation), so every plan
 * asking the same fields shares entries and plans asking others never do.
 * Empty for anything but a query whose one field is `_entities`.
 */
function entitySelection(query: string): string {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return '';
  }
  const operations = document.definitions.filter((node) => node.kind === Kind.OPERATION_DEFINITION);
  const [operation] = operations;
  if (operations.length !== 1 || !operation || operation.operation !== 'query') return '';
  const [field, ...others] = operation.selectionSet.selections;
  if (others.length > 0 || field?.kind !== Kind.FIELD || field.name.value !== '_entities' || field.alias)
    return '';
  const unnamed = {
    ...document,
    definitions: document.definitions.map((node) =>
      node === operation ? { ...operation, name: undefined } : node,
    ),
  };
  return hash('sha256', print(unnamed), 'base64url');
}

/** Position of the representation an error is about, `_entities.<i>…`; undefined for an error about the whole fetch. */
function entityPosition(error: SubgraphError): number | undefined {
  const path = error.path;
  return path?.[0] === '_entities' && typeof path[1] === 'number' ? path[1] : undefined;
}

/**
 * Puts an entity cache in front of a subgraph's `_entities` fetches, as
 * Apollo Router's entity cache does: each representation is looked up
 * first, only the missing ones are sent, and the answers are merged back in
 * order, errors moved to their representations' positions. A search page
 * whose documents are all cached so needs no call to the subgraph.
 *
 * Only a client's queries use it, and only with a verified tenant (a
 * mutation's generations were read before its write). The tenant comes
 * from the verified token, never from a representation. Stored are entities
 * that came back non-null with no error about them, from an answer that has
 * no error about the whole fetch and is not marked stale; a null (a deleted
 * id, or another tenant's) is never cached. Errors and `extensions` pass
 * through unchanged, except for the re-indexed paths.
 */
export function withEntityCache(
  source: GraphQLDataSource<GatewayContext>,
  { entityCache, typename }: EntityCachingOptions,
): GraphQLDataSource<GatewayContext> {
  // Fetch texts come from the gateway's cached plans: each is parsed and hashed once while it is in use.
  // (By text: the planner hands fetch documents over only when configured to keep one per fetch node.)
  const selections = new LRUCache<string, string>({ max: 1000 });
  const selectionOf = (query: string) => {
    let selection = selections.get(query);
    if (selection === undefined) {
      selection = entitySelection(query);
      selections.set(query, selection);
    }
    return selection;
  };
  // The generations are read once per request: the response cache's read when it looked the request up.
  const generationsOf = (context: GatewayContext) => {
    if (context.responseCacheTicket) return Promise.resolve(context.responseCacheTicket.generations);
    context.entityGenerations ??= entityCache.generations(context.principal.tenantId);
    return context.entityGenerations;
  };

  async function scopeOf(
    options: GraphQLDataSourceProcessOptions<GatewayContext>,
  ): Promise<{ scope: EntityScope; ids: string[] } | undefined> {
    if (!('incomingRequestContext' in options) || !options.request.query) return;
    if (options.incomingRequestContext.operation?.operation !== 'query') return;
    const context = options.context;
    if (!context.principal) return;
    const { representations, ...others } = options.request.variables ?? {};
    const ids = entityIds(representations, typename);
    const query = ids && selectionOf(options.request.query);
    if (!ids || !query) return;
    const generations = await generationsOf(context);
    if (generations === undefined) return;
    const selection =
      Object.keys(others).length === 0
        ? query
        : hash('sha256', `${query}\n${JSON.stringify(others)}`, 'base64url');
    return { scope: { tenantId: context.principal.tenantId, generations, selection }, ids };
  }

  return {
    async process(options) {
      const cacheable = await scopeOf(options);
      if (!cacheable) return source.process(options);
      const { scope, ids } = cacheable;
      const cached = await entityCache.lookup(scope, ids);
      const missing = cached.flatMap((json, position) => (json === undefined ? [position] : []));
      if (missing.length === 0)
        return { data: { _entities: cached.map((json) => JSON.parse(json as string)) } };

      const representations = options.request.variables?.representations as unknown[];
      const partial = missing.length < ids.length;
      const response = await source.process(
        partial
          ? {
              ...options,
              request: {
                ...options.request,
                variables: {
                  ...options.request.variables,
                  representations: missing.map((position) => representations[position]),
                },
              },
            }
          : options,
      );
      const fetched: unknown = response.data?._entities;
      const answered = Array.isArray(fetched) && fetched.length === missing.length ? fetched : undefined;
      if (answered) void store(scope, ids, missing, answered, response).catch(() => {});
      if (!partial) return response;

      const entities: unknown[] = cached.map((json) => (json === undefined ? null : JSON.parse(json)));
      missing.forEach((position, index) => {
        entities[position] = answered?.[index] ?? null;
      });
      return {
        ...response,
        data: { ...response.data, _entities: entities },
        ...(response.errors
          ? {
              errors: response.errors.map((error) => {
                const index = entityPosition(error);
                const position = index === undefined ? undefined : missing[index];
                if (position === undefined || !error.path) return error;
                return { ...error, path: ['_entities', position, ...error.path.slice(2)] };
              }),
            }
          : {}),
      };
    },
  };

  /** Serialised at once: the gateway merges into the objects it is handed. */
  function store(
    scope: EntityScope,
    ids: readonly string[],
    missing: readonly number[],
    answered: readonly unknown[],
    response: GatewayGraphQLResponse,
  ): Promise<void> {
    if (response.extensions?.stale === true) return Promise.resolve();
    const failed = new Set<number>();
    for (const error of response.errors ?? []) {
      const index = entityPosition(error);
      if (index === undefined) return Promise.resolve();
      failed.add(index);
    }
    const entries = missing.flatMap((position, index) => {
      const entity = answered[index];
      if (entity === null || typeof entity !== 'object' || failed.has(index)) return [];
      return [{ id: ids[position] as string, json: JSON.stringify(entity) }];
    });
    return entries.length > 0 ? entityCache.store(scope, entries) : Promise.resolve();
  }
}

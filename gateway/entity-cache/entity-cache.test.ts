import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types.js';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../server/auth/jwt-verifier.ts';
import { type Cache, responseGenerationKey, searchGenerationKey } from '../../server/cache/cache.ts';
import { createGenerationBumps, type GenerationBumps } from '../../server/cache/generation-bumps.ts';
import { createMemoryCache } from '../../server/cache/memory-cache.ts';
import { noOperationalEvents } from '../../server/observability/events.ts';
import type { GatewayContext } from '../context.ts';
import { createEntityCache } from './entity-cache.ts';
import { withEntityCache } from './entity-cache-data-source.ts';

const principal = (tenantId: string): Principal => ({
  tenantId,
  subject: undefined,
  scopes: new Set(['documents:read']),
  clientType: 'first-party',
  clientIds: [],
  tier: 'standard',
  token: `token-${tenantId}`,
  expiresAt: Date.now() + 60_000,
});

const titles =
  'query Page__documents__1($representations:[_Any!]!){_entities(representations:$representations){...on Document{id title}}}';
const titlesOfAnotherOperation =
  'query Other__documents__1($representations:[_Any!]!){_entities(representations:$representations){...on Document{id title}}}';
const bodies =
  'query Page__documents__1($representations:[_Any!]!){_entities(representations:$representations){...on Document{id body}}}';

/** What the documents subgraph holds, per tenant; `failing` ids answer null with an error. */
interface Backend {
  titles: Record<string, Record<string, string>>;
  failing: Set<string>;
  calls: { tenantId: string; ids: string[] }[];
}

/** A documents subgraph as the gateway sees it: `_entities` answered from `backend`, in order. */
function fakeDocuments(backend: Backend) {
  return {
    async process(options: { request: { variables: Record<string, unknown> }; context: GatewayContext }) {
      const tenantId = options.context.principal.tenantId;
      const ids = (options.request.variables.representations as { id: string }[]).map(({ id }) => id);
      backend.calls.push({ tenantId, ids });
      const errors: { message: string; path: (string | number)[] }[] = [];
      const entities = ids.map((id, position) => {
        if (backend.failing.has(id)) {
          errors.push({ message: `cannot load ${id}`, path: ['_entities', position, 'title'] });
          return null;
        }
        const title = backend.titles[tenantId]?.[id];
        return title === undefined ? null : { id, title };
      });
      return {
        data: { _entities: entities },
        extensions: { served: 'documents' },
        ...(errors.length > 0 ? { errors } : {}),
      } as GatewayGraphQLResponse;
    },
  };
}

describe('entity cache in front of the documents subgraph', () => {
  let cache: Cache;
  let bumps: GenerationBumps;
  let backend: Backend;
  let source: ReturnType<typeof withEntityCache>;
  const lookups: string[] = [];
  /** Which of the cache's calls fail, as when Redis is unreachable: the entries' or every call. */
  let cacheFails: 'none' | 'entries' | 'all';

  /** The cache as the entity cache sees it, failing as `cacheFails` says. */
  const failing = (target: Cache): Cache =>
    new Proxy(target, {
      get(object, property, receiver) {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const keys = [args[0]].flat().map(String);
          const fails =
            cacheFails === 'all' ||
            (cacheFails === 'entries' && keys.some((key) => key.includes(':entity:')));
          return fails ? Promise.reject(new Error('cache unreachable')) : value.apply(object, args);
        };
      },
    });

  beforeEach(() => {
    cache = createMemoryCache();
    cacheFails = 'none';
    bumps = createGenerationBumps({ cache, key: responseGenerationKey });
    backend = { titles: {}, failing: new Set(), calls: [] };
    lookups.length = 0;
    const entityCache = createEntityCache({
      cache: failing(cache),
      ttlSeconds: 60,
      maxEntryBytes: 1024,
      bumps,
      events: {
        ...noOperationalEvents,
        cacheLookup: (name, outcome) => {
          lookups.push(`${name}:${outcome}`);
        },
      },
    });
    source = withEntityCache(fakeDocuments(backend) as never, { entityCache, typename: 'Document' });
  });

  const fetchEntities = (
    tenantId: string,
    ids: string[],
    {
      query = titles,
      operation = 'query' as 'query' | 'mutation',
      context = {} as Partial<GatewayContext>,
    } = {},
  ) =>
    source.process({
      kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
      request: {
        query,
        variables: { representations: ids.map((id) => ({ __typename: 'Document', id })) },
      },
      context: Object.assign(context, { principal: principal(tenantId) }),
      incomingRequestContext: { operation: { operation } } as never,
    });

  /** Lets the stores that the data source does not await land. */
  const storesLanded = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('answers a repeated fetch from the cache, without calling the subgraph', async () => {
    backend.titles.acme = { a: 'Alpha', b: 'Beta' };
    const first = await fetchEntities('acme', ['a', 'b']);
    await storesLanded();
    const second = await fetchEntities('acme', ['a', 'b']);
    expect(first.data).toEqual({
      _entities: [
        { id: 'a', title: 'Alpha' },
        { id: 'b', title: 'Beta' },
      ],
    });
    expect(second.data).toEqual(first.data);
    expect(backend.calls).toHaveLength(1);
    expect(lookups).toEqual(['entity:miss', 'entity:miss', 'entity:hit', 'entity:hit']);
  });

  it('sends only the missing representations and merges the answers back in order', async () => {
    backend.titles.acme = { a: 'Alpha', b: 'Beta', c: 'Gamma' };
    await fetchEntities('acme', ['b']);
    await storesLanded();
    const merged = await fetchEntities('acme', ['a', 'b', 'c']);
    expect(backend.calls.at(-1)).toEqual({ tenantId: 'acme', ids: ['a', 'c'] });
    expect(merged.data).toEqual({
      _entities: [
        { id: 'a', title: 'Alpha' },
        { id: 'b', title: 'Beta' },
        { id: 'c', title: 'Gamma' },
      ],
    });
    expect(merged.extensions).toEqual({ served: 'documents' });
  });

  it("moves an error to its representation's position and caches neither it nor nulls", async () => {
    backend.titles.acme = { a: 'Alpha', c: 'Gamma' };
    backend.failing.add('c');
    await fetchEntities('acme', ['a']);
    await storesLanded();
    const merged = await fetchEntities('acme', ['a', 'missing', 'c']);
    expect(merged.data).toEqual({ _entities: [{ id: 'a', title: 'Alpha' }, null, null] });
    expect(merged.errors).toEqual([{ message: 'cannot load c', path: ['_entities', 2, 'title'] }]);
    await storesLanded();
    backend.failing.clear();
    await fetchEntities('acme', ['a', 'missing', 'c']);
    expect(backend.calls.at(-1)?.ids).toEqual(['missing', 'c']);
  });

  it('never shares an entry between tenants with the same document id', async () => {
    backend.titles.acme = { same: 'Acme plans' };
    backend.titles.globex = { same: 'Globex plans' };
    // The same generations for both: only the tenant part of the key keeps their entries apart.
    for (const tenantId of ['acme', 'globex'])
      for (const key of [responseGenerationKey(tenantId), searchGenerationKey(tenantId)])
        await cache.set(key, '7', 60);
    await fetchEntities('acme', ['same']);
    await storesLanded();
    const globex = await fetchEntities('globex', ['same']);
    await storesLanded();
    const acme = await fetchEntities('acme', ['same']);
    expect(globex.data).toEqual({ _entities: [{ id: 'same', title: 'Globex plans' }] });
    expect(acme.data).toEqual({ _entities: [{ id: 'same', title: 'Acme plans' }] });
    expect(backend.calls.map((call) => call.tenantId)).toEqual(['acme', 'globex']);
  });

  it('keys by the selection: other fields miss, another operation with the same fields hits', async () => {
    backend.titles.acme = { a: 'Alpha' };
    await fetchEntities('acme', ['a'], { query: titles });
    await storesLanded();
    await fetchEntities('acme', ['a'], { query: bodies });
    await fetchEntities('acme', ['a'], { query: titlesOfAnotherOperation });
    expect(backend.calls).toHaveLength(2);
  });

  it("a bump of the tenant's response generation ends its entries", async () => {
    backend.titles.acme = { a: 'Alpha' };
    await fetchEntities('acme', ['a']);
    await storesLanded();
    backend.titles.acme = { a: 'Alpha, edited' };
    await bumps.bump(['acme']);
    const after = await fetchEntities('acme', ['a']);
    expect(after.data).toEqual({ _entities: [{ id: 'a', title: 'Alpha, edited' }] });
  });

  it('reads the generations once per request, or takes those the response cache read', async () => {
    backend.titles.acme = { a: 'Alpha' };
    const request: Partial<GatewayContext> = {};
    await fetchEntities('acme', ['a'], { context: request });
    await storesLanded();
    // A write during the request: its later fetches still read under the generations it started with.
    await bumps.bump(['acme']);
    await fetchEntities('acme', ['a'], { context: request });
    expect(backend.calls).toHaveLength(1);
    const ticket = { key: 'unused', generations: (await request.entityGenerations) as string };
    await fetchEntities('acme', ['a'], { context: { responseCacheTicket: ticket } });
    expect(backend.calls).toHaveLength(1);
    await fetchEntities('acme', ['a']);
    expect(backend.calls).toHaveLength(2);
  });

  it('answers from the subgraph when the cache fails, its entries or its generations', async () => {
    backend.titles.acme = { a: 'Alpha' };
    for (const fails of ['entries', 'all'] as const) {
      cacheFails = fails;
      for (let request = 0; request < 2; request++) {
        const answer = await fetchEntities('acme', ['a']);
        expect(answer.data).toEqual({ _entities: [{ id: 'a', title: 'Alpha' }] });
        await storesLanded();
      }
    }
    expect(backend.calls).toHaveLength(4);
    // Counted where the lookup failed; without generations nothing is looked up.
    expect(lookups).toEqual(['entity:error', 'entity:error']);
  });

  it("neither reads nor stores during a mutation's fetches", async () => {
    backend.titles.acme = { a: 'Alpha' };
    await fetchEntities('acme', ['a'], { operation: 'mutation' });
    await storesLanded();
    await fetchEntities('acme', ['a'], { operation: 'mutation' });
    expect(backend.calls).toHaveLength(2);
    expect(lookups).toEqual([]);
  });
});

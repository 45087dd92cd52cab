import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentStore } from '../../subgraphs/documents/document-store.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';
import { eventually } from './harness.ts';

/** Holds the noisy tenant's reads until released, so its slot stays taken; `reached` says one is held. */
function holdingNoisyReads() {
  let held = Promise.withResolvers<void>();
  let reached = Promise.withResolvers<void>();
  return {
    decorate: (store: DocumentStore): DocumentStore =>
      new Proxy(store, {
        get(target, property, receiver) {
          if (property !== 'findByIds') return Reflect.get(target, property, receiver).bind(target);
          return async (tenantId: string, ids: string[]) => {
            if (tenantId === 'noisy-tenant') {
              reached.resolve();
              await held.promise;
            }
            return target.findByIds(tenantId, ids);
          };
        },
      }),
    reached: () => reached.promise,
    release: () => held.resolve(),
    reset() {
      held = Promise.withResolvers<void>();
      reached = Promise.withResolvers<void>();
    },
  };
}

/** Two tenants with one document each, the noisy one's reads held at the store until released. */
function twoTenants(env: Record<string, string>) {
  let stack: TestStack;
  const reads = holdingNoisyReads();
  const ids: Record<string, string> = {};
  const repeatedIds: Record<string, string> = {};
  let reading = 0;
  /** Each read its own operation, so the gateway never merges it with one in flight. */
  const read = async (tenant: string) => {
    const alias = `read${reading++}`;
    const result = await stack.graphql<Record<string, { title: string } | null>>(
      `query ($id: ID!) { ${alias}: document(id: $id) { title } }`,
      { variables: { id: ids[tenant] }, token: tokens[tenant] },
    );
    return { errors: result.errors, title: result.data?.[alias]?.title };
  };
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    stack = await startTestStack({
      decorateStore: reads.decorate,
      env: {
        RESPONSE_CACHE_TTL_SECONDS: '0',
        // A held read keeps its slot until released, however slow the machine: no timeout may end it first.
        RESILIENCE_TIMEOUT_MS: '60000',
        SUBGRAPH_TIMEOUT_MS: '60000',
        EXECUTION_TIMEOUT_MS: '60000',
        ...env,
      },
    });
    const create = async (tenant: string, title: string) =>
      (await stack.store.create(tenant, { title, body: 'text', tags: [], author: null, status: 'PUBLISHED' }))
        .id;
    for (const tenant of ['noisy-tenant', 'quiet-tenant']) {
      tokens[tenant] = await stack.token(tenant);
      ids[tenant] = await create(tenant, `${tenant} notes`);
      // Its own document: the documents service's cache would answer a held read of one read before.
      repeatedIds[tenant] = await create(tenant, `${tenant} repeated`);
    }
    // Indexed now: the indexer's generation bump, landing later, would retire a response cached before it.
    await stack.settle();
  });
  afterAll(() => stack?.stop());
  return {
    reads,
    read,
    raw: (tenant: string) => stack.graphql('{ __typename }', { token: tokens[tenant] }),
    /** The same operation every time, which the response cache (when on) can answer. */
    readRepeated: async (tenant: string) => {
      const result = await stack.graphql<{ document: { title: string } | null }>(
        'query RepeatedRead($id: ID!) { document(id: $id) { title } }',
        { variables: { id: repeatedIds[tenant] }, token: tokens[tenant] },
      );
      return { errors: result.errors, title: result.data?.document?.title };
    },
  };
}

describe("the documents store's per-tenant bulkhead", () => {
  const { reads, read } = twoTenants({ DOCUMENTS_TENANT_CONCURRENCY: '1', DOCUMENTS_TENANT_QUEUE: '0' });

  it("refuses a tenant's read past its share with RATE_LIMITED, while another tenant's read is answered", async () => {
    reads.reset();
    const holding = read('noisy-tenant');
    await reads.reached();
    // The held read has the noisy tenant's one slot, and its queue is empty: the next is refused at once.
    expect((await read('noisy-tenant')).errors?.map((error) => error.extensions)).toEqual([
      { code: 'RATE_LIMITED', retryAfterSeconds: 1 },
    ]);
    const quiet = await read('quiet-tenant');
    expect(quiet.errors).toBeUndefined();
    expect(quiet.title).toBe('quiet-tenant notes');
    reads.release();
    expect((await holding).title).toBe('noisy-tenant notes');
    // The slot is free again once the held read returned.
    expect((await read('noisy-tenant')).errors).toBeUndefined();
  });
});

describe("the gateway's per-tenant bulkhead", () => {
  const { reads, read, raw } = twoTenants({ GATEWAY_TENANT_CONCURRENCY: '1', GATEWAY_TENANT_QUEUE: '0' });

  it("refuses a tenant's request past its operations in flight with 429, while another tenant's is answered", async () => {
    reads.reset();
    const holding = read('noisy-tenant');
    await reads.reached();
    const refused = await raw('noisy-tenant');
    expect([refused.status, refused.errors?.map((error) => error.extensions)]).toEqual([
      429,
      [{ code: 'RATE_LIMITED', retryAfterSeconds: 1 }],
    ]);
    expect((await read('quiet-tenant')).title).toBe('quiet-tenant notes');
    reads.release();
    expect((await holding).title).toBe('noisy-tenant notes');
    expect((await raw('noisy-tenant')).status).toBe(200);
  });
});

describe("the gateway's per-tenant bulkhead, with the response cache on", () => {
  const { reads, read, readRepeated } = twoTenants({
    GATEWAY_TENANT_CONCURRENCY: '1',
    GATEWAY_TENANT_QUEUE: '0',
    RESPONSE_CACHE_TTL_SECONDS: '60',
  });

  it("answers a tenant's cache hits while its operations in flight are all slow misses", async () => {
    reads.release();
    expect((await readRepeated('noisy-tenant')).title).toBe('noisy-tenant repeated');
    reads.reset();
    const holding = read('noisy-tenant');
    await reads.reached();
    // Its one slot is held and it has no queue, so another miss is refused at once.
    expect((await read('noisy-tenant')).errors?.map((error) => error.extensions)).toEqual([
      { code: 'RATE_LIMITED', retryAfterSeconds: 1 },
    ]);
    // The first answer is stored without the client waiting for it: refused until then, a hit after.
    await eventually(async () => {
      const repeated = await readRepeated('noisy-tenant');
      expect(repeated.errors).toBeUndefined();
      expect(repeated.title).toBe('noisy-tenant repeated');
    });
    reads.release();
    expect((await holding).title).toBe('noisy-tenant notes');
  });
});

import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.ts';
import { createFaultSwitch } from '../helpers/faults.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { type GraphQLResponse, startTestStack, type TestStack } from '../helpers/test-stack.ts';

/**
 * Short budgets so the whole matrix runs in well under a minute: a backend
 * call (2 attempts of 500 ms) fits inside a gateway-to-subgraph attempt
 * (1.5 s), which fits inside the subgraph deadline (2 s); Redis gets 150 ms
 * per command, one attempt, where it is the fault. The defaults users get are longer (attempts of
 * 2 s, 3 for a backend, a 5 s deadline, 250 ms for Redis); everything else,
 * the response cache and rate-limit leases included, is the default.
 */
export const budgets = {
  backendTimeoutMs: 500,
  subgraphTimeoutMs: 1500,
  subgraphDeadlineMs: 2000,
  /** Where Redis is the fault a cell injects. */
  redisTimeoutMs: 150,
  /**
   * Where it is not: the stale page a backend cell relies on is a Redis read, and a busy machine that
   * stalls a service's event loop past 150 ms would fail it, which is not the fault under test.
   */
  redisNotFaultedTimeoutMs: 2000,
  halfOpenAfterMs: 500,
  /**
   * What the user may wait while a dependency's breaker is open. A sanity bound only, generous because a
   * busy 2-core machine took most of a second to answer a request that never reached the backend: the
   * cells prove the short circuit by counting the calls that reached the dependency, not by the clock.
   */
  openBackendMs: 2000,
  openSubgraphMs: 2000,
  /** How long recovery (and Redis connecting at startup) may take: breakers half-open after 500 ms, then one probe. */
  recoveryMs: 15_000,
};

export const testEnv = (redisUrl: string, redisTimeoutMs: number): Record<string, string> => ({
  REDIS_URL: redisUrl,
  REDIS_COMMAND_TIMEOUT_MS: String(redisTimeoutMs),
  RESILIENCE_TIMEOUT_MS: `${budgets.backendTimeoutMs},redis=${redisTimeoutMs},subgraph:search=${budgets.subgraphTimeoutMs},subgraph:documents=${budgets.subgraphTimeoutMs}`,
  SUBGRAPH_TIMEOUT_MS: String(budgets.subgraphDeadlineMs),
  BREAKER_FAILURE_THRESHOLD: '3',
  BREAKER_HALF_OPEN_AFTER_MS: String(budgets.halfOpenAfterMs),
  RETRY_MAX_ATTEMPTS: '2,redis=1',
  RETRY_INITIAL_DELAY_MS: '10',
  RATE_LIMIT_TIERS: 'standard=100000/100000',
  // Off, whatever the default: it would answer the document fields a cell breaks the documents subgraph
  // for, whatever the operation's name (`uncached`). Its own tests: tests/e2e/entity-cache.test.ts.
  ENTITY_CACHE_TTL_SECONDS: '0',
});

export interface Harness {
  stack: TestStack;
  redis: TestRedis;
  redisProxy: FaultProxy;
  searchProxy: FaultProxy;
  documentsProxy: FaultProxy;
  storeFaults: ReturnType<typeof createFaultSwitch>;
  indexFaults: ReturnType<typeof createFaultSwitch>;
  token: string;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Adds to `testEnv`, for a test that says why it needs more. */
  env?: Record<string, string>;
  /** `budgets.redisTimeoutMs` for a test that faults Redis; the default is `budgets.redisNotFaultedTimeoutMs`. */
  redisTimeoutMs?: number;
}

export async function startHarness(tenantId: string, options: HarnessOptions = {}): Promise<Harness> {
  const { env = {}, redisTimeoutMs = budgets.redisNotFaultedTimeoutMs } = options;
  // Stopped in reverse when a later step fails too: a harness that never returned has no stop() to call,
  // and its Redis and services would outlive the test.
  const started: (() => Promise<void>)[] = [];
  const stopStarted = async () => {
    const failures: unknown[] = [];
    for (const stop of started.reverse()) await stop().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  };
  const storeFaults = createFaultSwitch();
  const indexFaults = createFaultSwitch();
  try {
    const redis = await startTestRedis();
    started.push(() => redis.stop());
    const redisProxy = await startFaultProxy({ host: '127.0.0.1', port: redis.port });
    started.push(() => redisProxy.close());
    const proxies: Record<string, FaultProxy> = {};
    const stack = await startTestStack({
      env: { ...testEnv(`redis://127.0.0.1:${redisProxy.port}`, redisTimeoutMs), ...env },
      decorateStore: (store) => storeFaults.wrap(store),
      decorateIndex: (index) => indexFaults.wrap(index),
      routeSubgraph: async (name, url) => {
        const target = new URL(url);
        const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port) });
        started.push(() => proxy.close());
        proxies[name] = proxy;
        return proxy.url(url);
      },
    });
    started.push(() => stack.stop());
    // Every service connects to Redis in the background, without an offline queue. A cell that starts
    // before all are connected loses its first cache writes (the stale page it later relies on), which
    // a fast enough first request does.
    await eventually(async () => {
      for (const url of [stack.gatewayUrl, stack.documentsUrl, stack.searchUrl, stack.indexerUrl]) {
        expect((await readiness(url)).body.dependencies.redis?.detail?.connection).toBe('ready');
      }
    });
    return {
      stack,
      redis,
      redisProxy,
      searchProxy: proxies.search!,
      documentsProxy: proxies.documents!,
      storeFaults,
      indexFaults,
      token: await stack.token(tenantId),
      async stop() {
        // Releases blackholed calls, which would otherwise hold up the stack's shutdown.
        storeFaults.clear();
        indexFaults.clear();
        await stopStarted();
      },
    };
  } catch (error) {
    storeFaults.clear();
    indexFaults.clear();
    // The failure to start is the one to report.
    await stopStarted().catch(() => {});
    throw error;
  }
}

export interface Readiness {
  status: number;
  body: {
    status: 'ready' | 'unready';
    dependencies: Record<string, { ok: boolean; required: boolean; detail?: Record<string, unknown> }>;
  };
}

/** GET /health/ready of a service, given its GraphQL URL. */
export async function readiness(graphqlUrl: string): Promise<Readiness> {
  const response = await fetch(new URL('/health/ready', graphqlUrl));
  return { status: response.status, body: (await response.json()) as Readiness['body'] };
}

export async function breakerOf(graphqlUrl: string, dependency: string): Promise<unknown> {
  return (await readiness(graphqlUrl)).body.dependencies[dependency]?.detail?.breaker;
}

/**
 * Clears every fault, then sends requests through every dependency until all
 * their breakers report closed. Cells call it after each case, so a case that
 * failed half-way cannot hand an open breaker, or failures counted toward
 * one, to the next case.
 */
let uncachedQueries = 0;
/**
 * The query under an operation name of its own, so the response cache (on,
 * as users run it) cannot answer it instead of the subgraph a cell tests.
 */
export const uncached = (query: string): string =>
  query.replace(/^query\b/, `query Uncached${++uncachedQueries}`);

let probes = 0;
export async function closeAllBreakers(h: Harness): Promise<void> {
  h.storeFaults.clear();
  h.indexFaults.clear();
  // Only a proxy with a fault: setting a mode cuts every connection through it, and services reconnecting
  // to Redis would lose the next cell's cache writes.
  const proxies = [h.searchProxy, h.documentsProxy, h.redisProxy];
  await Promise.all(proxies.filter((proxy) => proxy.mode() !== 'pass').map((proxy) => proxy.set('pass')));
  await eventually(async () => {
    // One request to each subgraph, which calls its backend: a half-open breaker's probe. Its own
    // variables each time, so the response cache cannot answer it instead.
    probes++;
    const probe = await h.stack.graphql(
      'query ($q: String!, $ids: [ID!]!) { search(query: $q, first: 1) { total } documents(ids: $ids) { id } }',
      { token: h.token, variables: { q: `probe ${probes}`, ids: [`probe-${probes}`] } },
    );
    expectNoErrors(probe);
    const states = await Promise.all([
      breakerOf(h.stack.gatewayUrl, 'subgraph:search'),
      breakerOf(h.stack.gatewayUrl, 'subgraph:documents'),
      breakerOf(h.stack.searchUrl, 'search-index'),
      breakerOf(h.stack.documentsUrl, 'documents-store'),
    ]);
    expect(states).toEqual(['closed', 'closed', 'closed', 'closed']);
  });
}

/** Runs a request and measures what the user waited. */
export async function timed<T>(
  request: () => Promise<GraphQLResponse<T>>,
): Promise<{ ms: number; result: GraphQLResponse<T> }> {
  const started = performance.now();
  const result = await request();
  return { ms: performance.now() - started, result };
}

/** Retries `check` until it passes or `withinMs` elapses; returns how long recovery took. */
export async function eventually(check: () => Promise<void>, withinMs = budgets.recoveryMs): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      await check();
      return performance.now() - started;
    } catch (error) {
      if (performance.now() - started > withinMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export function codes(result: GraphQLResponse<unknown>): unknown[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}

export function expectNoErrors(result: GraphQLResponse<unknown>) {
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
}

/** Creates a document as the harness tenant and waits until it is searchable; returns its id. */
export async function createIndexed(h: Harness, title: string, body: string): Promise<string> {
  const created = await h.stack.graphql<{ createDocument: { id: string } }>(
    'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }',
    { variables: { input: { title, body } }, token: h.token },
  );
  expectNoErrors(created);
  await h.stack.settle();
  return created.data!.createDocument.id;
}

interface SearchData {
  search: { total: number; stale: boolean; hits: { document: { id: string; title: string } | null }[] };
}
const searchQuery =
  'query ($q: String!) { search(query: $q, first: 5) { total stale hits { document { id title } } } }';

/** A matrix block's harness, and the id of the document it was seeded with. */
export interface MatrixCell {
  readonly h: Harness;
  readonly id: string;
  /** The first five hits for `q`, as the harness tenant. */
  search(q: string): Promise<GraphQLResponse<SearchData>>;
  /** The same search as a request of its own, which the response cache cannot answer. */
  uncachedSearch(q: string): Promise<GraphQLResponse<SearchData>>;
}

/**
 * One harness for the enclosing `describe` block: started (and seeded with one
 * indexed document, when given) before its tests, stopped after them, and
 * `reset` after each test so a failed one leaves no fault, or a breaker it
 * opened, behind for the next.
 */
export function matrixHarness(
  tenantId: string,
  options: {
    seed?: { title: string; body: string };
    reset?: (h: Harness) => Promise<unknown>;
    redisTimeoutMs?: number;
  } = {},
): MatrixCell {
  const { seed, reset = closeAllBreakers, redisTimeoutMs } = options;
  let harness: Harness | undefined;
  let seededId: string | undefined;
  beforeAll(async () => {
    harness = await startHarness(tenantId, { redisTimeoutMs });
    if (seed) seededId = await createIndexed(harness, seed.title, seed.body);
  });
  afterAll(() => harness?.stop());
  afterEach(async () => {
    if (harness) await reset(harness);
  });
  const cell: MatrixCell = {
    get h() {
      if (!harness) throw new Error('the harness starts in beforeAll');
      return harness;
    },
    get id() {
      if (seededId === undefined) throw new Error('this block seeded no document');
      return seededId;
    },
    search: (q) => cell.h.stack.graphql<SearchData>(searchQuery, { token: cell.h.token, variables: { q } }),
    uncachedSearch: (q) =>
      cell.h.stack.graphql<SearchData>(uncached(searchQuery), { token: cell.h.token, variables: { q } }),
  };
  return cell;
}

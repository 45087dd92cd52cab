import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';
import { type Sample, sampleValue, scrape } from '../helpers/prometheus.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Fails searches for one word, so the test can produce backend errors on demand. */
function failingOn(word: string) {
  return (index: SearchIndex): SearchIndex => ({
    search: (request) =>
      request.text === word ? Promise.reject(new Error('index is down')) : index.search(request),
    suggest: (...args) => index.suggest(...args),
    apply: (changes) => index.apply(changes),
    close: () => index.close(),
  });
}

const metricsUrl = (graphqlUrl: string) => graphqlUrl.replace(/\/graphql$/, '/metrics');

describe('/metrics after a known sequence of requests', () => {
  let stack: TestStack;
  let gateway: Sample[];
  let search: Sample[];
  let documents: Sample[];
  let indexer: Sample[];

  beforeAll(async () => {
    stack = await startTestStack({ decorateIndex: failingOn('explode') });
    const token = await stack.token('tenant-metrics');
    for (const title of ['Metric one', 'Metric two', 'Metric three']) {
      await stack.graphql(
        `mutation Create { createDocument(input: { title: "${title}", body: "b" }) { id } }`,
        {
          token,
        },
      );
    }
    await stack.settle();
    // 2 good searches (3 hits each), 1 refused input, 1 backend failure, 1 request without a token.
    for (let round = 0; round < 2; round += 1) {
      const ok = await stack.graphql(
        'query Find { search(query: "metric") { hits { document { title } } } }',
        {
          token,
        },
      );
      expect(ok.errors).toBeUndefined();
    }
    const refused = await stack.graphql('query Find { search(query: "metric", first: 0) { total } }', {
      token,
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const failed = await stack.graphql('query Broken { search(query: "explode") { total } }', { token });
    expect(failed.errors?.[0]?.extensions?.code).toBe('SEARCH_UNAVAILABLE');
    const anonymous = await stack.graphql('query Find { search(query: "metric") { total } }', {
      token: null,
    });
    expect(anonymous.status).toBe(401);

    [gateway, search, documents, indexer] = await Promise.all([
      scrape(metricsUrl(stack.gatewayUrl)),
      scrape(metricsUrl(stack.searchUrl)),
      scrape(metricsUrl(stack.documentsUrl)),
      scrape(new URL('/metrics', stack.indexerUrl).href),
    ]);
  });
  afterAll(() => stack.stop());

  it('counts gateway requests by operation, tenant and result', () => {
    const find = { service: 'gateway', operation: 'Find', tenant: 'tenant-metrics' };
    expect(sampleValue(gateway, 'quarry_graphql_requests_total', { ...find, result: 'ok' })).toBe(2);
    expect(sampleValue(gateway, 'quarry_graphql_requests_total', { ...find, result: 'client_error' })).toBe(
      1,
    );
    expect(sampleValue(gateway, 'quarry_graphql_errors_total', { ...find, code: 'BAD_USER_INPUT' })).toBe(1);
    const broken = { operation: 'Broken', tenant: 'tenant-metrics' };
    expect(sampleValue(gateway, 'quarry_graphql_requests_total', { ...broken, result: 'server_error' })).toBe(
      1,
    );
    expect(
      sampleValue(gateway, 'quarry_graphql_errors_total', { ...broken, code: 'SEARCH_UNAVAILABLE' }),
    ).toBe(1);
    expect(sampleValue(gateway, 'quarry_graphql_request_duration_seconds_count', find)).toBe(3);
    expect(
      sampleValue(gateway, 'quarry_graphql_request_duration_seconds_count', { operation: 'Create' }),
    ).toBe(3);
  });

  it('counts a request refused for its token under tenant none', () => {
    const refused = { operation: 'unknown', tenant: '_none' };
    expect(
      sampleValue(gateway, 'quarry_graphql_requests_total', { ...refused, result: 'client_error' }),
    ).toBe(1);
    expect(sampleValue(gateway, 'quarry_graphql_errors_total', { ...refused, code: 'UNAUTHENTICATED' })).toBe(
      1,
    );
  });

  it('times every backend call of the search subgraph, by outcome, and counts cache lookups', () => {
    const call = { service: 'search', dependency: 'search-index', operation: 'search' };
    // The refused request never reached the index, and the gateway answered the repeated search from
    // its response cache, so the subgraph saw it once.
    expect(
      sampleValue(search, 'quarry_backend_call_duration_seconds_count', { ...call, outcome: 'ok' }),
    ).toBe(1);
    expect(sampleValue(gateway, 'quarry_cache_lookups_total', { cache: 'response', outcome: 'hit' })).toBe(1);
    expect(sampleValue(gateway, 'quarry_cache_lookups_total', { cache: 'response', outcome: 'miss' })).toBe(
      3,
    );
    expect(
      sampleValue(search, 'quarry_backend_call_duration_seconds_count', { ...call, outcome: 'error' }),
    ).toBe(1);
    expect(sampleValue(search, 'quarry_graphql_requests_total', { result: 'server_error' })).toBe(1);
  });

  it('records one DataLoader batch of three documents for the one page the subgraphs resolved', () => {
    const loader = { service: 'documents', loader: 'documentById' };
    expect(sampleValue(documents, 'quarry_dataloader_batch_size_count', loader)).toBe(1);
    expect(sampleValue(documents, 'quarry_dataloader_batch_size_sum', loader)).toBe(3);
    expect(sampleValue(documents, 'quarry_dataloader_batch_size_bucket', { ...loader, le: '2' })).toBe(0);
    expect(sampleValue(documents, 'quarry_dataloader_batch_size_bucket', { ...loader, le: '5' })).toBe(1);
    const findByIds = { dependency: 'documents-store', operation: 'findByIds', outcome: 'ok' };
    expect(sampleValue(documents, 'quarry_backend_call_duration_seconds_count', findByIds)).toBe(1);
  });

  it('serves the indexer lag and the indexer backend calls from the indexer', () => {
    const lag = sampleValue(indexer, 'quarry_indexer_lag_seconds', { service: 'indexer' });
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(30);
    const apply = { dependency: 'search-index', operation: 'apply', outcome: 'ok' };
    expect(sampleValue(indexer, 'quarry_backend_call_duration_seconds_count', apply)).toBeGreaterThanOrEqual(
      1,
    );
  });

  it("exports prom-client's default process and Node.js metrics from the subgraphs and the indexer", () => {
    for (const [service, samples] of Object.entries({ search, documents, indexer })) {
      for (const name of ['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds']) {
        expect(sampleValue(samples, name), `${name} from ${service}`).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('declares every series the dashboards and alerts use, before any event happens', async () => {
    const text = await (await fetch(metricsUrl(stack.gatewayUrl))).text();
    for (const name of [
      'quarry_cache_lookups_total',
      'quarry_breaker_state',
      'quarry_breaker_transitions_total',
      'quarry_retries_total',
      'quarry_rate_limited_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });
});

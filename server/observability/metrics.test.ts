import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parseExposition, sampleValue } from '../../tests/helpers/prometheus.ts';
import { requestError } from '../errors.ts';
import { createLabelFolder, createMetrics } from './metrics.ts';
import { classifyRequest, errorCodes } from './request-outcome.ts';

async function samplesOf(metrics: ReturnType<typeof createMetrics>) {
  return parseExposition(await metrics.registry.metrics());
}

describe('createLabelFolder', () => {
  it('admits allowlisted values always, then the first few others, then folds the rest into other', () => {
    const fold = createLabelFolder(2, ['vip']);
    expect(['a', 'vip', 'b', 'c', 'a', 'vip', 'd'].map(fold)).toEqual([
      'a',
      'vip',
      'b',
      'other',
      'a',
      'vip',
      'other',
    ]);
  });
});

describe('createMetrics', () => {
  it("exports prom-client's default process and Node.js metrics, labelled with the service", async () => {
    const samples = await samplesOf(createMetrics({ service: 'documents' }));
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(sampleValue(samples, name, { service: 'documents' }), name).toBeGreaterThanOrEqual(0);
    }
  });

  it('bounds tenant and operation labels, and rejects operation names that are not GraphQL names', async () => {
    const metrics = createMetrics({ service: 'test', maxTenantLabels: 1, maxOperationLabels: 1 });
    expect(metrics.tenantLabel('acme')).toBe('acme');
    expect(metrics.tenantLabel('globex')).toBe('_other');
    expect(metrics.tenantLabel(undefined)).toBe('_none');
    // Tenants named like the folded and the refused requests keep series of their own.
    const named = createMetrics({ service: 'test', maxTenantLabels: 2 });
    expect(['other', 'none', 'globex'].map((tenant) => named.tenantLabel(tenant))).toEqual([
      'other',
      'none',
      '_other',
    ]);
    expect(named.tenantLabel(undefined)).toBe('_none');
    expect(metrics.operationLabel('Find', 'acme')).toBe('Find');
    expect(metrics.operationLabel('Other', 'acme')).toBe('other');
    expect(metrics.operationLabel(null, 'acme')).toBe('anonymous');
    expect(metrics.operationLabel('drop table; --', 'acme')).toBe('invalid');
  });

  it('gives each tenant its own operation label budget, which no other tenant can use up', () => {
    const metrics = createMetrics({ service: 'test', maxOperationLabels: 3 });
    for (let n = 0; n < 50; n += 1) metrics.operationLabel(`Flood${n}`, 'noisy');
    expect(metrics.operationLabel('Flood99', 'noisy')).toBe('other');
    expect(
      ['SearchPage', 'Suggest', 'DocumentById'].map((name) => metrics.operationLabel(name, 'quiet')),
    ).toEqual(['SearchPage', 'Suggest', 'DocumentById']);
  });

  it('counts requests by result and errors by code', async () => {
    const metrics = createMetrics({ service: 'test' });
    metrics.observeRequest({ operation: 'Find', tenant: 'acme', seconds: 0.12, codes: [] });
    metrics.observeRequest({ operation: 'Find', tenant: 'acme', seconds: 0.2, codes: ['BAD_USER_INPUT'] });
    metrics.observeRequest({
      operation: 'Find',
      tenant: 'acme',
      seconds: 2,
      codes: ['SEARCH_UNAVAILABLE', 'SEARCH_UNAVAILABLE'],
    });
    const samples = await samplesOf(metrics);
    const labels = { operation: 'Find', tenant: 'acme' };
    expect(sampleValue(samples, 'quarry_graphql_requests_total', { ...labels, result: 'ok' })).toBe(1);
    expect(sampleValue(samples, 'quarry_graphql_requests_total', { ...labels, result: 'client_error' })).toBe(
      1,
    );
    expect(sampleValue(samples, 'quarry_graphql_requests_total', { ...labels, result: 'server_error' })).toBe(
      1,
    );
    // One request with the same code twice is one erroring request for that code.
    expect(
      sampleValue(samples, 'quarry_graphql_errors_total', { ...labels, code: 'SEARCH_UNAVAILABLE' }),
    ).toBe(1);
    expect(sampleValue(samples, 'quarry_graphql_request_duration_seconds_count', labels)).toBe(3);
    expect(
      sampleValue(samples, 'quarry_graphql_request_duration_seconds_bucket', { ...labels, le: '0.15' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'quarry_graphql_request_duration_seconds_bucket', { ...labels, le: '0.3' }),
    ).toBe(2);
    expect(samples.every((sample) => sample.labels.service === 'test')).toBe(true);
  });

  it('implements the operational events: caches, breakers, retries, rate limits, backend calls, batches, lost workers', async () => {
    const metrics = createMetrics({ service: 'test' });
    const { events } = metrics;
    events.cacheLookup('response', 'miss');
    events.cacheLookup('response', 'hit');
    events.cacheLookup('response', 'hit');
    events.breakerStateChanged('search', 'open');
    events.breakerStateChanged('search', 'half-open');
    events.breakerStateChanged('search', 'open');
    events.retried('documents');
    events.rateLimited('acme');
    events.backendCall('search-index', 'search', 0.004, 'ok');
    events.backendCall('search-index', 'search', 0.5, 'error');
    events.batchLoaded('documentById', 7);
    events.workerLost('sqlite-search', 'deadline');
    events.workerLost('sqlite-search', 'deadline');
    events.workerLost('sqlite-search', 'exited');
    const samples = await samplesOf(metrics);
    expect(sampleValue(samples, 'quarry_cache_lookups_total', { cache: 'response', outcome: 'hit' })).toBe(2);
    expect(sampleValue(samples, 'quarry_cache_lookups_total', { cache: 'response', outcome: 'miss' })).toBe(
      1,
    );
    expect(sampleValue(samples, 'quarry_breaker_state', { dependency: 'search', state: 'open' })).toBe(1);
    expect(sampleValue(samples, 'quarry_breaker_state', { dependency: 'search', state: 'half-open' })).toBe(
      0,
    );
    expect(sampleValue(samples, 'quarry_breaker_state', { dependency: 'search', state: 'closed' })).toBe(0);
    expect(
      sampleValue(samples, 'quarry_breaker_transitions_total', { dependency: 'search', state: 'open' }),
    ).toBe(2);
    expect(sampleValue(samples, 'quarry_retries_total', { dependency: 'documents' })).toBe(1);
    expect(sampleValue(samples, 'quarry_rate_limited_total', { tenant: 'acme' })).toBe(1);
    const call = { dependency: 'search-index', operation: 'search' };
    expect(
      sampleValue(samples, 'quarry_backend_call_duration_seconds_count', { ...call, outcome: 'ok' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'quarry_backend_call_duration_seconds_count', { ...call, outcome: 'error' }),
    ).toBe(1);
    expect(sampleValue(samples, 'quarry_dataloader_batch_size_sum', { loader: 'documentById' })).toBe(7);
    const pool = { pool: 'sqlite-search' };
    expect(sampleValue(samples, 'quarry_worker_losses_total', { ...pool, reason: 'deadline' })).toBe(2);
    expect(sampleValue(samples, 'quarry_worker_losses_total', { ...pool, reason: 'exited' })).toBe(1);
  });

  it('reports the indexer lag as the age of the oldest pending write, measured at scrape time', async () => {
    const metrics = createMetrics({ service: 'indexer' });
    let oldest: Date | null = new Date(Date.now() - 5000);
    metrics.trackIndexerLag(async () => oldest);
    const lag = sampleValue(await samplesOf(metrics), 'quarry_indexer_lag_seconds');
    expect(lag).toBeGreaterThanOrEqual(5);
    expect(lag).toBeLessThan(60);
    oldest = null;
    expect(sampleValue(await samplesOf(metrics), 'quarry_indexer_lag_seconds')).toBe(0);
  });

  it('still serves every series, the lag at its last value, while the store cannot say how far behind it is', async () => {
    const metrics = createMetrics({ service: 'indexer' });
    let storeDown = false;
    metrics.trackIndexerLag(async () => {
      if (storeDown) throw new Error('connection refused');
      return new Date(Date.now() - 5000);
    });
    const before = sampleValue(await samplesOf(metrics), 'quarry_indexer_lag_seconds');
    storeDown = true;
    metrics.events.breakerStateChanged('documents-store', 'open');
    const samples = await samplesOf(metrics);
    expect(sampleValue(samples, 'quarry_indexer_lag_seconds')).toBe(before);
    expect(
      sampleValue(samples, 'quarry_breaker_state', { dependency: 'documents-store', state: 'open' }),
    ).toBe(1);
  });

  it('counts parked changes by reason and pruned tombstones by store, and reads the dead letters at scrape time', async () => {
    const metrics = createMetrics({ service: 'indexer' });
    let parked = 2;
    const events = metrics.trackIndexer(async () => parked);
    events.changesParked('refused', 2);
    events.changesParked('attempts', 1);
    events.tombstonesPruned('search-index', 5);
    events.tombstonePruningFinished('ok');
    let samples = await samplesOf(metrics);
    expect(sampleValue(samples, 'quarry_indexer_dead_letters')).toBe(2);
    expect(sampleValue(samples, 'quarry_indexer_changes_parked_total', { reason: 'refused' })).toBe(2);
    expect(sampleValue(samples, 'quarry_indexer_changes_parked_total', { reason: 'attempts' })).toBe(1);
    expect(sampleValue(samples, 'quarry_tombstones_pruned_total', { store: 'search-index' })).toBe(5);
    expect(sampleValue(samples, 'quarry_tombstone_pruning_last_success_timestamp_seconds')).toBeGreaterThan(
      0,
    );
    parked = 0;
    samples = await samplesOf(metrics);
    expect(sampleValue(samples, 'quarry_indexer_dead_letters')).toBe(0);
  });

  it('keeps each service in its own registry', async () => {
    const first = createMetrics({ service: 'a' });
    const second = createMetrics({ service: 'b' });
    first.events.retried('x');
    expect(sampleValue(await samplesOf(second), 'quarry_retries_total', { dependency: 'x' })).toBeUndefined();
  });
});

describe('classifying a request by the codes its client saw', () => {
  it("counts Apollo's code-less 4xx errors as the client's, and unknown codes and the deadline as the service's", () => {
    // The shape of Apollo's "provided sha does not match query": no code, only an HTTP status.
    const apqMismatch = new GraphQLError('provided sha does not match query', {
      extensions: { http: { status: 400 } },
    });
    const plannerFailure = new GraphQLError('Unknown operation named "B"', {
      extensions: { code: 'INVALID_GRAPHQL' },
    });
    expect(errorCodes([apqMismatch])).toEqual(['BAD_REQUEST']);
    expect(classifyRequest(errorCodes([apqMismatch]))).toBe('client_error');
    expect(errorCodes([plannerFailure, new Error('driver message')])).toEqual([
      'INTERNAL_SERVER_ERROR',
      'INTERNAL_SERVER_ERROR',
    ]);
    expect(
      classifyRequest(errorCodes([requestError('GATEWAY_TIMEOUT', 'The operation took too long')])),
    ).toBe('server_error');
    // The service could not say whether a write happened: its failure, not the client's.
    expect(classifyRequest(['WRITE_OUTCOME_UNKNOWN'])).toBe('server_error');
    expect(classifyRequest(errorCodes([requestError('BAD_USER_INPUT', 'first')]))).toBe('client_error');
  });
});

describe('tenant usage gauges', () => {
  it('report only the listed tenants, read once per scrape, and keep the last values when the store cannot answer', async () => {
    const metrics = createMetrics({ service: 'documents', tenantAllowlist: ['acme', 'globex'] });
    const reads: string[] = [];
    let storeUp = true;
    metrics.trackTenantUsage(async (tenantId) => {
      reads.push(tenantId);
      if (!storeUp) throw new Error('store down');
      return tenantId === 'acme' ? { documents: 3, bytes: 1200 } : { documents: 1, bytes: 40 };
    });
    const scrape = async () => parseExposition(await metrics.registry.metrics());

    let samples = await scrape();
    expect(reads.sort()).toEqual(['acme', 'globex']);
    expect(sampleValue(samples, 'quarry_tenant_documents', { tenant: 'acme' })).toBe(3);
    expect(sampleValue(samples, 'quarry_tenant_stored_bytes', { tenant: 'globex' })).toBe(40);
    expect(samples.filter((sample) => sample.name === 'quarry_tenant_documents')).toHaveLength(2);

    storeUp = false;
    samples = await scrape();
    expect(sampleValue(samples, 'quarry_tenant_documents', { tenant: 'acme' })).toBe(3);
  });
});

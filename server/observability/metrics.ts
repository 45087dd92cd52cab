import {
  type CollectFunction,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client';
import type { RouteHandler } from '../http/http-server.ts';
import type { IndexerEvents, OperationalEvents } from './events.ts';
import { classifyRequest } from './request-outcome.ts';

export interface MetricsOptions {
  /** Added to every series as `service`, so one Prometheus query can span all services. */
  service: string;
  /**
   * Tenants that always get their own `tenant` label. Default none. Stable
   * across restarts and replicas, so prefer it in production.
   */
  tenantAllowlist?: readonly string[];
  /**
   * Besides the allowlist, how many further tenants get their own label, the
   * first ones this process sees; the rest are `other`. Default 50.
   */
  maxTenantLabels?: number;
  /**
   * Distinct operation names labelled per tenant label before the tenant's
   * other names become `other`. Each tenant has its own budget, so no tenant
   * can use up another's. Default 20 (METRICS_MAX_OPERATIONS).
   */
  maxOperationLabels?: number;
  /**
   * Request latency buckets in seconds, dense around the 300 ms p95 and 1 s
   * p99 objectives so both quantiles are interpolated within a narrow bucket.
   */
  latencyBuckets?: number[];
}

export const defaultLatencyBuckets = [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2.5, 5];
/** Backend calls are a slice of a request, so their buckets start lower. */
const backendBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5];
const batchSizeBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500];
const breakerStates = ['closed', 'open', 'half-open', 'isolated'] as const;
/** GraphQL names are `[_A-Za-z][_0-9A-Za-z]*`; anything else a client sends is not a label. */
const operationNamePattern = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

/** The tenant label of requests refused before their token named a tenant. */
export const noTenantLabel = '_none';

/**
 * Hands out at most `limit` distinct label values (beyond the always-allowed
 * ones) and folds every later value into `folded`. Each distinct value is a
 * time series in Prometheus, so an unbounded label (tenants, client-chosen
 * operation names) would grow its memory without limit.
 */
export function createLabelFolder(limit: number, allowed: readonly string[] = [], folded = 'other') {
  const admitted = new Set(allowed);
  let extra = 0;
  return (value: string): string => {
    if (admitted.has(value)) return value;
    if (extra >= limit) return folded;
    extra += 1;
    admitted.add(value);
    return value;
  };
}

/** What one indexer reports: its outbox partitions, the leases it lost, the changes it applied. */
export interface IndexerProgressMetrics {
  held(count: number): void;
  lost(partition: number): void;
  applied(count: number): void;
}

export interface ServiceMetrics {
  registry: Registry;
  /** The hooks caches, breakers, retries, rate limits and loaders report to. */
  events: OperationalEvents;
  tenantLabel(tenantId: string | undefined): string;
  operationLabel(operationName: string | null | undefined, tenantLabel: string): string;
  /**
   * One finished GraphQL request; `codes` are its errors' `extensions.code`
   * values. Without `seconds` (a request refused before it started) it is
   * counted but stays out of the latency histogram.
   */
  observeRequest(request: { operation: string; tenant: string; seconds?: number; codes: string[] }): void;
  /** Reports how far behind the indexer is whenever Prometheus scrapes. */
  trackIndexerLag(oldestPendingAt: () => Promise<Date | null>): void;
  /** Registers the indexer's own series (only the indexer has them) and returns what it reports to. */
  indexerProgress(): IndexerProgressMetrics;
  /**
   * Reports the parked changes whenever Prometheus scrapes, and returns the hooks the indexer and the
   * tombstone pruner count their work with.
   */
  trackIndexer(countDeadLetters: () => Promise<number>): IndexerEvents;
  /**
   * Reports the stored documents and bytes of the `METRICS_TENANTS` tenants whenever Prometheus
   * scrapes: a fixed list, so the labels stay bounded however many tenants there are.
   */
  trackTenantUsage(usage: (tenantId: string) => Promise<{ documents: number; bytes: number }>): void;
  /** `{ '/metrics': handler }`, for the routes map every service's HTTP server takes. */
  routes(): Record<string, RouteHandler>;
}

/** What each series counts, as its `# HELP` line says: every series a service may have, in one list. */
const help = {
  quarry_graphql_requests_total:
    'GraphQL requests by operation, tenant and result (ok, client_error, server_error)',
  quarry_graphql_request_duration_seconds:
    'GraphQL request latency from the first plugin hook to the response',
  quarry_graphql_errors_total: 'GraphQL errors by extensions.code',
  quarry_cache_lookups_total:
    'Cache lookups by cache and outcome (hit, miss, stale, error; refresh: a hit that started a background refresh)',
  quarry_breaker_state: 'Circuit breaker state per dependency: 1 for the current state, 0 for the others',
  quarry_breaker_transitions_total: 'Circuit breaker state changes per dependency, by the state entered',
  quarry_retries_total: 'Retried calls per dependency',
  quarry_rate_limited_total: 'Requests refused by the rate limit, per tenant',
  quarry_backend_call_duration_seconds:
    'Calls to a backend (store, index, cache) per dependency, operation and outcome',
  quarry_dataloader_batch_size: 'Keys per DataLoader batch',
  quarry_worker_losses_total:
    'Worker processes lost, by pool and reason: killed past a deadline or for a caller gone (replaced at once), or exited on their own',
  quarry_indexer_lag_seconds: 'Age of the oldest write not yet in the search index; 0 when caught up',
  quarry_indexer_dead_letters:
    'Changes parked as dead letters, waiting for npm run dead-letters to retry or drop them',
  quarry_indexer_changes_parked_total:
    'Changes parked as dead letters, by reason (refused by the index, out of attempts, older than the tombstone retention)',
  quarry_indexer_change_failures_total:
    'Changes the index failed on while applying the rest of their batch; they stay in the outbox for another attempt',
  quarry_tombstones_pruned_total:
    'Tombstones older than TOMBSTONE_RETENTION removed, by store (documents, search-index)',
  quarry_tombstone_pruning_last_success_timestamp_seconds:
    'When a whole round of tombstone pruning last finished',
  quarry_tombstone_pruning_failures_total: 'Rounds of tombstone pruning that failed',
  quarry_indexer_partitions_held: 'Outbox partitions this indexer holds a lease on; 0 for a standby',
  quarry_indexer_lease_losses_total:
    'Partition leases that ran out or were taken before this indexer renewed them',
  quarry_indexer_changes_applied_total:
    'Outbox changes this indexer applied to the search index and acknowledged',
  quarry_tenant_documents: 'Live documents of each listed tenant (METRICS_TENANTS)',
  quarry_tenant_stored_bytes: 'Stored bytes of each listed tenant (METRICS_TENANTS), as quotas count them',
} as const;

type SeriesName = keyof typeof help;

/**
 * A prom-client Registry for one service, never the global default one: two
 * services in one process (`npm start`, the tests) keep separate counts.
 */
export function createMetrics(options: MetricsOptions): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  // prom-client's process_* and nodejs_* collectors (CPU, memory, event loop lag, GC, handles), per registry.
  collectDefaultMetrics({ register: registry });
  const series = seriesIn(registry);
  const labels = boundedLabels(options);
  const observeRequest = requestSeries(series, options.latencyBuckets ?? defaultLatencyBuckets);
  const events = operationalEvents(series, labels.tenant);
  return {
    registry,
    events,
    tenantLabel: (tenantId) => (tenantId ? labels.tenant(tenantId) : noTenantLabel),
    operationLabel: labels.operation,
    observeRequest,
    trackIndexerLag: (oldestPendingAt) => indexerLagGauge(series, oldestPendingAt),
    trackIndexer: (countDeadLetters) => ({
      ...deadLetterSeries(series, countDeadLetters),
      ...tombstonePruningSeries(series),
    }),
    indexerProgress: () => indexerProgressSeries(series),
    trackTenantUsage: (usage) => tenantUsageGauges(series, options.tenantAllowlist ?? [], usage),
    routes: () => ({ '/metrics': scrape(registry) }),
  };
}

/** Declares series in one service's registry, each with its help line: what every declaration would repeat. */
function seriesIn(registry: Registry) {
  const registers = [registry];
  return {
    counter: <Label extends string = string>(name: SeriesName, labelNames: readonly Label[] = []) =>
      new Counter<Label>({ name, help: help[name], labelNames, registers }),
    gauge: <Label extends string = string>(
      name: SeriesName,
      labelNames: readonly Label[] = [],
      collect?: CollectFunction<Gauge<Label>>,
    ) => new Gauge<Label>({ name, help: help[name], labelNames, registers, collect }),
    histogram: <Label extends string>(name: SeriesName, labelNames: readonly Label[], buckets: number[]) =>
      new Histogram<Label>({ name, help: help[name], labelNames, buckets, registers }),
  };
}

type Series = ReturnType<typeof seriesIn>;

/** The tenant and operation labels, each bounded so that no client can grow the series without limit. */
function boundedLabels(options: MetricsOptions) {
  // A tenant id never starts with `_`, so no tenant can share these labels' series.
  const tenant = createLabelFolder(options.maxTenantLabels ?? 50, options.tenantAllowlist, '_other');
  // One budget per tenant label; tenant labels are bounded themselves, so this map is too.
  const operationLabels = new Map<string, (operationName: string) => string>();
  const operationLabelFor = (tenantLabel: string) => {
    let folder = operationLabels.get(tenantLabel);
    if (!folder) {
      folder = createLabelFolder(options.maxOperationLabels ?? 20);
      operationLabels.set(tenantLabel, folder);
    }
    return folder;
  };
  const operation: ServiceMetrics['operationLabel'] = (operationName, tenantLabel) => {
    if (!operationName) return 'anonymous';
    return operationNamePattern.test(operationName)
      ? operationLabelFor(tenantLabel)(operationName)
      : 'invalid';
  };
  return { tenant, operation };
}

/** Every GraphQL request: counted by result, timed, and each of its error codes counted. */
function requestSeries(series: Series, latencyBuckets: number[]): ServiceMetrics['observeRequest'] {
  const requests = series.counter('quarry_graphql_requests_total', ['operation', 'tenant', 'result']);
  const duration = series.histogram(
    'quarry_graphql_request_duration_seconds',
    ['operation', 'tenant'],
    latencyBuckets,
  );
  const errors = series.counter('quarry_graphql_errors_total', ['operation', 'tenant', 'code']);
  return ({ operation, tenant, seconds, codes }) => {
    requests.inc({ operation, tenant, result: classifyRequest(codes) });
    if (seconds !== undefined) duration.observe({ operation, tenant }, seconds);
    for (const code of new Set(codes)) errors.inc({ operation, tenant, code });
  };
}

/** The series behind the hooks caches, breakers, retries, rate limits, backend calls and loaders report to. */
function operationalEvents(series: Series, tenantLabel: (tenantId: string) => string): OperationalEvents {
  const cacheLookups = series.counter('quarry_cache_lookups_total', ['cache', 'outcome']);
  const breakerState = series.gauge('quarry_breaker_state', ['dependency', 'state']);
  const breakerTransitions = series.counter('quarry_breaker_transitions_total', ['dependency', 'state']);
  const retries = series.counter('quarry_retries_total', ['dependency']);
  const rateLimited = series.counter('quarry_rate_limited_total', ['tenant']);
  const backendCalls = series.histogram(
    'quarry_backend_call_duration_seconds',
    ['dependency', 'operation', 'outcome'],
    backendBuckets,
  );
  const batchSizes = series.histogram('quarry_dataloader_batch_size', ['loader'], batchSizeBuckets);
  const workerLosses = series.counter('quarry_worker_losses_total', ['pool', 'reason']);
  return {
    cacheLookup: (cache, outcome) => cacheLookups.inc({ cache, outcome }),
    breakerStateChanged(dependency, state) {
      for (const candidate of breakerStates) breakerState.set({ dependency, state: candidate }, 0);
      breakerState.set({ dependency, state }, 1);
      breakerTransitions.inc({ dependency, state });
    },
    retried: (dependency) => retries.inc({ dependency }),
    rateLimited: (tenantId) => rateLimited.inc({ tenant: tenantLabel(tenantId) }),
    backendCall: (dependency, operation, seconds, outcome) =>
      backendCalls.observe({ dependency, operation, outcome }, seconds),
    batchLoaded: (loader, size) => batchSizes.observe({ loader }, size),
    workerLost: (pool, reason) => workerLosses.inc({ pool, reason }),
  };
}

/**
 * A gauge read from its source whenever Prometheus scrapes, so its value is never older than the scrape.
 * When the source cannot say (its store is down), the last value stays: a failed collect would fail the
 * whole scrape, and with it the breaker and retry series that explain the outage.
 */
function scrapedGauge(series: Series, name: SeriesName, read: () => Promise<number>) {
  series.gauge(name, [], async function collect() {
    const value = await read().catch(() => undefined);
    if (value !== undefined) this.set(value);
  });
}

function indexerLagGauge(series: Series, oldestPendingAt: () => Promise<Date | null>) {
  scrapedGauge(series, 'quarry_indexer_lag_seconds', async () => {
    const oldest = await oldestPendingAt();
    return oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0;
  });
}

/** The parked changes, read at scrape time, and the changes the indexer parked or will try again. */
function deadLetterSeries(series: Series, countDeadLetters: () => Promise<number>) {
  scrapedGauge(series, 'quarry_indexer_dead_letters', countDeadLetters);
  const parked = series.counter('quarry_indexer_changes_parked_total', ['reason']);
  const retrying = series.counter('quarry_indexer_change_failures_total');
  return {
    changesParked: (reason, count) => parked.inc({ reason }, count),
    changesRetrying: (count) => retrying.inc(count),
  } satisfies Partial<IndexerEvents>;
}

/** The tombstone pruner's rounds: what each removed, when one last finished, and the ones that failed. */
function tombstonePruningSeries(series: Series) {
  const pruned = series.counter('quarry_tombstones_pruned_total', ['store']);
  const lastPruned = series.gauge('quarry_tombstone_pruning_last_success_timestamp_seconds');
  const pruningFailures = series.counter('quarry_tombstone_pruning_failures_total');
  return {
    tombstonesPruned: (store, count) => pruned.inc({ store }, count),
    tombstonePruningFinished(outcome) {
      if (outcome === 'ok') lastPruned.setToCurrentTime();
      else pruningFailures.inc();
    },
  } satisfies Partial<IndexerEvents>;
}

/** One indexer's share of the outbox: the partitions it holds, the leases it lost, the changes it applied. */
function indexerProgressSeries(series: Series): IndexerProgressMetrics {
  const held = series.gauge('quarry_indexer_partitions_held');
  const lost = series.counter('quarry_indexer_lease_losses_total');
  const applied = series.counter('quarry_indexer_changes_applied_total');
  return {
    held: (count) => held.set(count),
    lost: () => lost.inc(),
    applied: (count) => applied.inc(count),
  };
}

/** The listed tenants' stored documents and bytes, read at scrape time. */
function tenantUsageGauges(
  series: Series,
  tenants: readonly string[],
  usage: (tenantId: string) => Promise<{ documents: number; bytes: number }>,
) {
  const read = async (tenantId: string) => ({
    tenantId,
    usage: await usage(tenantId).catch(() => undefined),
  });
  // Each scrape reads the listed tenants once for both gauges; a tenant the store cannot answer for keeps its last values.
  let reading: Promise<{ tenantId: string; usage?: { documents: number; bytes: number } }[]> | undefined;
  const readAll = () => {
    reading ??= Promise.all(tenants.map(read)).finally(() => {
      reading = undefined;
    });
    return reading;
  };
  for (const [name, field] of [
    ['quarry_tenant_documents', 'documents'],
    ['quarry_tenant_stored_bytes', 'bytes'],
  ] as const) {
    series.gauge(name, ['tenant'], async function collect() {
      for (const { tenantId, usage: read } of await readAll())
        if (read) this.set({ tenant: tenantId }, read[field]);
    });
  }
}

/** The `/metrics` route: the registry in Prometheus' text format, never cached on the way. */
function scrape(registry: Registry): RouteHandler {
  return async (_request, response) => {
    const body = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    response.end(body);
  };
}

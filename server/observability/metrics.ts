import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
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

/**
 * A prom-client Registry for one service, never the global default one: two
 * services in one process (`npm start`, the tests) keep separate counts.
 */
export function createMetrics(options: MetricsOptions): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  // prom-client's process_* and nodejs_* collectors (CPU, memory, event loop lag, GC, handles), per registry.
  collectDefaultMetrics({ register: registry });
  // A tenant id never starts with `_`, so no tenant can share these labels' series.
  const tenantLabel = createLabelFolder(options.maxTenantLabels ?? 50, options.tenantAllowlist, '_other');
  // One budget per tenant label; tenant labels are bounded themselves, so this map is too.
  const operationLabels = new Map<string, (operationName: string) => string>();
  const operationLabelFor = (tenant: string) => {
    let folder = operationLabels.get(tenant);
    if (!folder) {
      folder = createLabelFolder(options.maxOperationLabels ?? 20);
      operationLabels.set(tenant, folder);
    }
    return folder;
  };
  const registers = [registry];

  const requests = new Counter({
    name: 'quarry_graphql_requests_total',
    help: 'GraphQL requests by operation, tenant and result (ok, client_error, server_error)',
    labelNames: ['operation', 'tenant', 'result'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'quarry_graphql_request_duration_seconds',
    help: 'GraphQL request latency from the first plugin hook to the response',
    labelNames: ['operation', 'tenant'] as const,
    buckets: options.latencyBuckets ?? defaultLatencyBuckets,
    registers,
  });
  const errors = new Counter({
    name: 'quarry_graphql_errors_total',
    help: 'GraphQL errors by extensions.code',
    labelNames: ['operation', 'tenant', 'code'] as const,
    registers,
  });
  const cacheLookups = new Counter({
    name: 'quarry_cache_lookups_total',
    help: 'Cache lookups by cache and outcome (hit, miss, stale, error; refresh: a hit that started a background refresh)',
    labelNames: ['cache', 'outcome'] as const,
    registers,
  });
  const breakerState = new Gauge({
    name: 'quarry_breaker_state',
    help: 'Circuit breaker state per dependency: 1 for the current state, 0 for the others',
    labelNames: ['dependency', 'state'] as const,
    registers,
  });
  const breakerTransitions = new Counter({
    name: 'quarry_breaker_transitions_total',
    help: 'Circuit breaker state changes per dependency, by the state entered',
    labelNames: ['dependency', 'state'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'quarry_retries_total',
    help: 'Retried calls per dependency',
    labelNames: ['dependency'] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: 'quarry_rate_limited_total',
    help: 'Requests refused by the rate limit, per tenant',
    labelNames: ['tenant'] as const,
    registers,
  });
  const backendDuration = new Histogram({
    name: 'quarry_backend_call_duration_seconds',
    help: 'Calls to a backend (store, index, cache) per dependency, operation and outcome',
    labelNames: ['dependency', 'operation', 'outcome'] as const,
    buckets: backendBuckets,
    registers,
  });
  const batchSizes = new Histogram({
    name: 'quarry_dataloader_batch_size',
    help: 'Keys per DataLoader batch',
    labelNames: ['loader'] as const,
    buckets: batchSizeBuckets,
    registers,
  });

  const events: OperationalEvents = {
    cacheLookup: (cache, outcome) => cacheLookups.inc({ cache, outcome }),
    breakerStateChanged(dependency, state) {
      for (const candidate of breakerStates) breakerState.set({ dependency, state: candidate }, 0);
      breakerState.set({ dependency, state }, 1);
      breakerTransitions.inc({ dependency, state });
    },
    retried: (dependency) => retries.inc({ dependency }),
    rateLimited: (tenantId) => rateLimited.inc({ tenant: tenantLabel(tenantId) }),
    backendCall: (dependency, operation, seconds, outcome) =>
      backendDuration.observe({ dependency, operation, outcome }, seconds),
    batchLoaded: (loader, size) => batchSizes.observe({ loader }, size),
  };

  return {
    registry,
    events,
    tenantLabel: (tenantId) => (tenantId ? tenantLabel(tenantId) : noTenantLabel),
    operationLabel(operationName, tenant) {
      if (!operationName) return 'anonymous';
      return operationNamePattern.test(operationName) ? operationLabelFor(tenant)(operationName) : 'invalid';
    },
    observeRequest({ operation, tenant, seconds, codes }) {
      requests.inc({ operation, tenant, result: classifyRequest(codes) });
      if (seconds !== undefined) duration.observe({ operation, tenant }, seconds);
      for (const code of new Set(codes)) errors.inc({ operation, tenant, code });
    },
    trackIndexerLag(oldestPendingAt) {
      new Gauge({
        name: 'quarry_indexer_lag_seconds',
        help: 'Age of the oldest write not yet in the search index; 0 when caught up',
        registers,
        // Computed at scrape time, so the value is never older than the scrape itself. When the store cannot
        // say (it is down), the last value stays: a failed collect would fail the whole scrape, and with it
        // the breaker and retry series that explain the outage.
        async collect() {
          const oldest = await oldestPendingAt().catch(() => undefined);
          if (oldest === undefined) return;
          this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
        },
      });
    },
    trackIndexer(countDeadLetters) {
      new Gauge({
        name: 'quarry_indexer_dead_letters',
        help: 'Changes parked as dead letters, waiting for npm run dead-letters to retry or drop them',
        registers,
        // As the lag: a store that cannot answer keeps the last value rather than failing the scrape.
        async collect() {
          const count = await countDeadLetters().catch(() => undefined);
          if (count !== undefined) this.set(count);
        },
      });
      const parked = new Counter({
        name: 'quarry_indexer_changes_parked_total',
        help: 'Changes parked as dead letters, by reason (refused by the index, out of attempts, older than the tombstone retention)',
        labelNames: ['reason'] as const,
        registers,
      });
      const retrying = new Counter({
        name: 'quarry_indexer_change_failures_total',
        help: 'Changes the index failed on while applying the rest of their batch; they stay in the outbox for another attempt',
        registers,
      });
      const pruned = new Counter({
        name: 'quarry_tombstones_pruned_total',
        help: 'Tombstones older than TOMBSTONE_RETENTION removed, by store (documents, search-index)',
        labelNames: ['store'] as const,
        registers,
      });
      const lastPruned = new Gauge({
        name: 'quarry_tombstone_pruning_last_success_timestamp_seconds',
        help: 'When a whole round of tombstone pruning last finished',
        registers,
      });
      const pruningFailures = new Counter({
        name: 'quarry_tombstone_pruning_failures_total',
        help: 'Rounds of tombstone pruning that failed',
        registers,
      });
      return {
        changesParked: (reason, count) => parked.inc({ reason }, count),
        changesRetrying: (count) => retrying.inc(count),
        tombstonesPruned: (store, count) => pruned.inc({ store }, count),
        tombstonePruningFinished(outcome) {
          if (outcome === 'ok') lastPruned.setToCurrentTime();
          else pruningFailures.inc();
        },
      };
    },
    indexerProgress() {
      const held = new Gauge({
        name: 'quarry_indexer_partitions_held',
        help: 'Outbox partitions this indexer holds a lease on; 0 for a standby',
        registers,
      });
      const lost = new Counter({
        name: 'quarry_indexer_lease_losses_total',
        help: 'Partition leases that ran out or were taken before this indexer renewed them',
        registers,
      });
      const applied = new Counter({
        name: 'quarry_indexer_changes_applied_total',
        help: 'Outbox changes this indexer applied to the search index and acknowledged',
        registers,
      });
      return {
        held: (count) => held.set(count),
        lost: () => lost.inc(),
        applied: (count) => applied.inc(count),
      };
    },
    trackTenantUsage(usage) {
      const tenants = options.tenantAllowlist ?? [];
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
      for (const [name, help, field] of [
        ['quarry_tenant_documents', 'Live documents of each listed tenant (METRICS_TENANTS)', 'documents'],
        [
          'quarry_tenant_stored_bytes',
          'Stored bytes of each listed tenant (METRICS_TENANTS), as quotas count them',
          'bytes',
        ],
      ] as const) {
        new Gauge({
          name,
          help,
          labelNames: ['tenant'],
          registers,
          async collect() {
            for (const { tenantId, usage: read } of await readAll())
              if (read) this.set({ tenant: tenantId }, read[field]);
          },
        });
      }
    },
    routes: () => ({
      '/metrics': async (_request, response) => {
        const body = await registry.metrics();
        response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        response.end(body);
      },
    }),
  };
}

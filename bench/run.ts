/**
 * `npm run bench`: Quarry against plain Apollo Gateway, Hive Gateway and a
 * bare-HTTP ceiling, on the same subgraphs, data and queries, in one run.
 * Everything runs as a child process on 127.0.0.1 and stops by itself.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { Redis } from 'ioredis';
import {
  DEV_AUDIENCE,
  DEV_ISSUER,
  type DevSigningKey,
  ensureDevSigningKey,
  mintDevToken,
} from '../server/auth/dev-keys.ts';
import { defaultRateLimitTiers } from '../server/config/rate-limits.ts';
import { type Corpus, createCorpus, probeDocuments } from './corpus.ts';
import type { PhaseHooks, RunnerRequest, RunnerResult, RunnerSpec } from './load-runner.ts';
import {
  type Child,
  cpuMs,
  freePort,
  machineSpeed,
  makeWorkDir,
  peakRssMb,
  processTreeCpuMs,
  sampleRss,
  startChild,
  waitUntil,
} from './processes.ts';
import { renderMarkdown } from './report.ts';
import type { RequestTimes } from './request-timer.ts';
import {
  buildScenario,
  isWrite,
  partnerManifest,
  persistedRegistration,
  probePage,
  readinessRequest,
  type ScenarioLoad,
  type ScenarioName,
  scenarioNames,
  subgraphWarmup,
  type Tokens,
  victimRate,
} from './scenarios.ts';
import { seedDocuments } from './seed.ts';

/** The rate-limit tier of every bench token but the noisy neighbour's: Quarry never refuses it. */
const unlimitedTier = 'bench';

export const gatewayNames = [
  'quarry',
  'quarry-nocache',
  'quarry-local',
  'apollo',
  'hive-cache',
  'hive-cache-redis',
  'hive-rust',
  'ceiling',
] as const;
export type GatewayName = (typeof gatewayNames)[number];

/** The ceiling only answers the search scenarios: it returns the search page whatever it is sent. */
const ceilingScenarios: readonly ScenarioName[] = ['search', 'search-cached'];

export interface BenchOptions {
  documents: number;
  tenants: number;
  seed: number;
  duration: number;
  fixedDuration: number;
  victimDuration: number;
  warmup: number;
  connections: number;
  rate: number;
  scenarios: ScenarioName[];
  gateways: GatewayName[];
  out: string;
  /** Where to write V8 CPU profiles of the gateways under test; none when unset. */
  cpuProf?: string;
}

export interface ScenarioResult extends RunnerResult {
  /** `machineSpeed()` just before this cell ran: rounds per second of a fixed CPU workload. */
  machineSpeed: number;
  /** Highest resident memory sampled while the scenario ran (MiB). */
  peakRssMb: number;
  /** Gateway CPU time per response over all phases (ms); less sensitive to a busy machine than req/s. */
  cpuMsPerRequest: number;
  /** The subgraph processes' CPU per gateway response (ms): where the time goes behind the gateway. */
  subgraphCpuMsPerRequest: { documents: number; search: number };
  /**
   * Subgraph port calls per gateway response, by method, over all phases. Requests still in
   * flight when a phase ends reach the subgraphs without being counted as responses, so
   * saturated runs read slightly above the exact figure; `searchPageCalls` is the exact check.
   */
  backendCallsPerRequest: Record<string, number>;
  /**
   * Quarry only: response cache entries refreshed in the background during the cell. Each reruns
   * a query on the serving thread; with the default 60 s TTL a cell is too short to reach one.
   */
  responseRefreshes?: number;
  /**
   * The fixed-rate phase timed in the gateway's request handler (`request-timer.ts`): from Node's
   * `request` event to the response's `finish`, in ms. What the load generator saw beyond this was
   * spent outside it: in the load generator, the kernel, or waiting for a busy event loop to parse
   * the request.
   */
  fixedInGateway?: Omit<RequestTimes, 'type'>;
  /**
   * Share of reads the gateway answered without calling the search subgraph: 1 − (search subgraph
   * HTTP requests ÷ read responses) over the measured phases. The same count for every gateway,
   * whatever its cache; in-flight requests at a phase's end make it read slightly low.
   */
  hitRate?: number;
}

export interface GatewayResult {
  scenarios: Partial<Record<ScenarioName, ScenarioResult>>;
  /** Port calls for exactly one search page: must be one `search` and one `findByIds`. */
  searchPageCalls?: Record<string, number>;
  /** VmHWM at the end (MiB). */
  peakRssMb: number;
  startSeconds: number;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  machine: {
    cpu: string;
    cores: number;
    memoryGb: number;
    node: string;
    loadBefore: number[];
    loadAfter: number[];
  };
  options: BenchOptions;
  corpus: { documents: number; tenants: number; seedSeconds: number; databaseMb: number };
  gateways: Partial<Record<GatewayName, GatewayResult>>;
  /** Quarry's value over the peer's, per scenario: max req/s, and fixed-rate p99 (lower is better). */
  /** Quarry's good req/s at maximum throughput over the peer's, and its fixed-rate p99 over the peer's. */
  ratios: Partial<Record<GatewayName, Partial<Record<ScenarioName, { goodRps: number; p99Fixed?: number }>>>>;
}

const here = import.meta.dirname;
const root = resolve(here, '..');

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return parsed;
}

function nonNegative(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) {
    throw new InvalidArgumentError(`expected zero or a positive number, got "${value}"`);
  }
  return parsed;
}

function listOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T[] => {
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    for (const item of items) {
      if (!allowed.includes(item as T))
        throw new InvalidArgumentError(`unknown "${item}"; expected ${allowed.join(', ')}`);
    }
    return [...new Set(items)] as T[];
  };
}

export function parseOptions(argv: string[]): BenchOptions {
  const program = new Command('bench')
    .description('Benchmark Quarry against plain Apollo Gateway, Hive Gateway and a bare-HTTP ceiling')
    .option('--documents <n>', 'corpus size', positive, 100_000)
    .option('--tenants <n>', 'tenants the corpus is spread over', positive, 20)
    .option('--seed <n>', 'corpus PRNG seed', positive, 7)
    .option('--duration <s>', 'seconds of each maximum-throughput run', positive, 10)
    .option(
      '--fixed-duration <s>',
      'seconds of each fixed-rate run, rounded up to whole seconds; 0 skips it (default: --duration)',
      nonNegative,
    )
    .option(
      '--victim-duration <s>',
      "seconds of the noisy neighbour's victim alone and again flooded: a p99 needs hundreds of samples",
      positive,
      20,
    )
    .option('--warmup <s>', 'seconds of discarded warm-up before each scenario', positive, 3)
    .option('--connections <n>', 'concurrent connections', positive, 32)
    .option('--rate <fraction>', "fixed-rate run at this fraction of Quarry's maximum", positive, 0.5)
    .option('--scenarios <list>', 'comma-separated scenarios', listOf(scenarioNames), [...scenarioNames])
    .option('--gateways <list>', 'comma-separated gateways', listOf(gatewayNames), [...gatewayNames])
    .option('--out <dir>', 'where results are written', join(root, 'bench/results'))
    .option(
      '--cpu-prof <dir>',
      'write V8 CPU profiles of the gateways under test and the subgraphs to this directory',
    )
    .parse(argv);
  const o = program.opts<Omit<BenchOptions, 'fixedDuration'> & { fixedDuration?: number }>();
  return {
    ...o,
    documents: Math.floor(o.documents),
    tenants: Math.floor(o.tenants),
    connections: Math.floor(o.connections),
    fixedDuration: o.fixedDuration ?? o.duration,
  };
}

async function postJson(url: string, request: RunnerRequest): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  return { status: response.status, text: await response.text() };
}

/** Background response cache refreshes counted in a Prometheus exposition of Quarry's metrics. */
export function refreshesIn(exposition: string): number {
  return exposition
    .split('\n')
    .filter((line) => /^quarry_cache_lookups_total\{[^}]*cache="response"[^}]*outcome="refresh"/.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** Quarry's count of background response cache refreshes, from its /metrics; undefined for the others. */
async function responseRefreshes(name: GatewayName, url: string): Promise<number | undefined> {
  if (!name.startsWith('quarry')) return undefined;
  return refreshesIn(await (await fetch(new URL('/metrics', url))).text());
}

function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) {
    const change = value - (before[name] ?? 0);
    if (change > 0) delta[name] = change;
  }
  return delta;
}

/** Port calls only: the subgraphs' HTTP request counts are for the hit rate. */
const portCalls = (counts: Record<string, number>) =>
  Object.fromEntries(Object.entries(counts).filter(([name]) => !name.endsWith('HttpRequests')));

const t0 = performance.now();
const log = (message: string) =>
  process.stderr.write(`[bench +${((performance.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);

/** What one run shares between its steps: its scratch directory and the children to stop at the end. */
interface Run {
  work: string;
  children: Child[];
  logFile(name: string): string;
}

/** The subgraphs every gateway calls, and their port-call counters. */
interface Subgraphs {
  documents: Child;
  search: Child;
  documentsUrl: string;
  searchUrl: string;
  /** Port calls and HTTP requests so far, by name, over both subgraphs. */
  counts(): Promise<Record<string, number>>;
}

type RunLoad = (spec: RunnerSpec, hooks?: PhaseHooks) => Promise<RunnerResult>;

interface GatewayUnderTest {
  name: GatewayName;
  child: Child;
  url: string;
}

export async function runBench(
  options: BenchOptions,
): Promise<{ result: BenchResult; jsonPath: string; markdownPath: string }> {
  const startedAt = new Date();
  const loadBefore = loadavg();
  const work = makeWorkDir('quarry-bench-');
  const run: Run = { work, children: [], logFile: (name) => join(work, `${name}.log`) };
  const stopAll = async () => {
    for (const child of run.children.reverse()) await child.stop();
  };
  let jwks: { close(): void } | undefined;
  // Stopped from outside (a CI timeout, Ctrl-C), the bench would leave every child running, loading the machine.
  const onSignal = (signal: NodeJS.Signals) => {
    void stopAll().finally(() => {
      rmSync(work, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const identity = await serveJwks(work);
    jwks = identity;
    const order = gatewayNames.filter((name) => options.gateways.includes(name));
    const probed = order.filter((name) => name !== 'ceiling');
    const dataDir = join(work, 'data');
    const { corpus, seedSeconds, databaseMb } = await seedCorpus(options, dataDir, probed);
    const [documentsPort, searchPort, redisPort] = [await freePort(), await freePort(), await freePort()];
    const documentsUrl = `http://127.0.0.1:${documentsPort}/graphql`;
    const searchUrl = `http://127.0.0.1:${searchPort}/graphql`;
    const { supergraphPath, manifestPath } = writeRunSchema(work, documentsUrl, searchUrl);
    const env = serviceEnv({
      dataDir,
      jwksUrl: identity.jwksUrl,
      documentsPort,
      searchPort,
      documentsUrl,
      searchUrl,
      supergraphPath,
    });
    const redisUrl = await startRedis(run, redisPort);
    // As in production, the subgraphs cache in Redis and the indexer bumps generations there, so every
    // gateway shares those caches and Quarry's response cache sees the indexer's bumps.
    const subgraphEnv = redisUrl ? { ...env, REDIS_URL: redisUrl } : env;
    const subgraphs = await startSubgraphs(run, options, subgraphEnv, { documentsUrl, searchUrl });
    const { tokens, probeTokens } = await mintTokens(identity.devKey, corpus, probed);
    const loads = Object.fromEntries(
      options.scenarios.map((name) => [name, buildScenario(name, corpus, tokens)]),
    ) as Record<ScenarioName, ScenarioLoad>;
    const result = emptyResult(options, { startedAt, loadBefore, corpus, seedSeconds, databaseMb });
    const runLoad = await startLoadRunner(run);
    await warmSubgraphs(runLoad, options, subgraphs, subgraphWarmup(corpus, tokens));
    const running = await startGateways(run, options, order, {
      env,
      redisUrl,
      manifestPath,
      subgraphs,
      readiness: readinessRequest(corpus, tokens),
      probeTokens,
      registration: persistedRegistration(tokens, corpus.terms.mid[0]!),
      gateways: result.gateways,
    });
    await measureScenarios(options, {
      loads,
      running,
      subgraphs,
      runLoad,
      gateways: result.gateways,
      emptyRedis: () => emptyRedis(redisUrl),
    });
    await stopGateways(run, running, result.gateways);
    result.ratios = quarryRatios(result.gateways, order, options.scenarios);
    result.machine.loadAfter = loadavg();
    result.finishedAt = new Date().toISOString();
    return { result, ...writeResults(result, options.out, startedAt) };
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await stopAll();
    jwks?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The result before any gateway is measured: the machine, the options and the corpus. */
function emptyResult(
  options: BenchOptions,
  run: { startedAt: Date; loadBefore: number[]; corpus: Corpus; seedSeconds: number; databaseMb: number },
): BenchResult {
  const { startedAt, loadBefore, corpus } = run;
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadBefore,
      loadAfter: [],
    },
    options,
    corpus: {
      documents: corpus.documentsPerTenant.reduce((sum, count) => sum + count, 0),
      tenants: options.tenants,
      seedSeconds: run.seedSeconds,
      databaseMb: run.databaseMb,
    },
    gateways: {},
    ratios: {},
  };
}

/** Identity: a dev signing key, its JWKS served over loopback HTTP (production requires JWT_JWKS_URL). */
async function serveJwks(work: string): Promise<{ devKey: DevSigningKey; jwksUrl: string; close(): void }> {
  const devKey = await ensureDevSigningKey(work);
  const jwks = readFileSync(devKey.jwksPath);
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(jwks);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return { devKey, jwksUrl, close: () => server.close() };
}

/** The corpus, plus one probe tenant per gateway, written to the embedded database every service reads. */
async function seedCorpus(
  options: BenchOptions,
  dataDir: string,
  probed: readonly GatewayName[],
): Promise<{ corpus: Corpus; seedSeconds: number; databaseMb: number }> {
  log(`seeding ${options.documents} documents across ${options.tenants} tenants`);
  const corpus = createCorpus({
    documents: options.documents,
    tenants: options.tenants,
    seed: options.seed,
    // Tenants differ in size by orders of magnitude in production; the realistic mix weights traffic by size.
    tenantSizes: 'zipf',
  });
  const seeded = await seedDocuments(
    join(dataDir, 'quarry.db'),
    (function* () {
      yield* corpus.documents();
      for (const name of probed) yield* probeDocuments(name);
    })(),
  );
  const databaseMb = statSync(join(dataDir, 'quarry.db')).size / 2 ** 20;
  log(`seeded in ${seeded.seconds.toFixed(1)} s (${databaseMb.toFixed(0)} MiB)`);
  return { corpus, seedSeconds: seeded.seconds, databaseMb };
}

/** The same supergraph for every gateway, pointing at this run's subgraph ports, and the partner manifest. */
function writeRunSchema(
  work: string,
  documentsUrl: string,
  searchUrl: string,
): { supergraphPath: string; manifestPath: string } {
  const supergraphPath = join(work, 'supergraph.graphql');
  writeFileSync(
    supergraphPath,
    readFileSync(join(root, 'schema/supergraph.graphql'), 'utf8')
      .replace(/(@join__graph\(name: "documents", url: ")[^"]+/, `$1${documentsUrl}`)
      .replace(/(@join__graph\(name: "search", url: ")[^"]+/, `$1${searchUrl}`),
  );
  const manifestPath = join(work, 'persisted-query-manifest.json');
  writeFileSync(
    manifestPath,
    partnerManifest(readFileSync(join(root, 'schema/persisted-query-manifest.json'), 'utf8')),
  );
  return { supergraphPath, manifestPath };
}

/** The environment every Quarry process of the run shares: production mode, this run's identity and ports. */
function serviceEnv(run: {
  dataDir: string;
  jwksUrl: string;
  documentsPort: number;
  searchPort: number;
  documentsUrl: string;
  searchUrl: string;
  supergraphPath: string;
}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DATA_DIR: run.dataDir,
    JWT_JWKS_URL: run.jwksUrl,
    JWT_ISSUER: DEV_ISSUER,
    JWT_AUDIENCE: DEV_AUDIENCE,
    CURSOR_SECRET: randomBytes(32).toString('hex'),
    DOCUMENTS_PORT: String(run.documentsPort),
    SEARCH_PORT: String(run.searchPort),
    DOCUMENTS_URL: run.documentsUrl,
    SEARCH_URL: run.searchUrl,
    SUPERGRAPH_PATH: run.supergraphPath,
  };
}

/** Empties the bench's Redis (a no-op without one). */
async function emptyRedis(redisUrl: string | undefined): Promise<void> {
  if (!redisUrl) return;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}

/** A throwaway redis-server when one is installed; without it, everything runs without REDIS_URL. */
async function startRedis(run: Run, port: number): Promise<string | undefined> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    const redis = startChild({
      name: 'redis',
      command: 'redis-server',
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      logFile: run.logFile('redis'),
    });
    run.children.push(redis);
    await waitUntil(
      'redis',
      async () => readFileSync(run.logFile('redis'), 'utf8').includes('Ready to accept'),
      {
        child: redis,
        timeoutMs: 10_000,
      },
    );
    return `redis://127.0.0.1:${port}`;
  } catch (error) {
    log(
      `redis-server unavailable, Quarry and the subgraphs run without REDIS_URL (${(error as Error).message})`,
    );
    return undefined;
  }
}

const cpuProfArgs = (options: BenchOptions, name: string) =>
  options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.cpuProf, name)}`] : [];

/** Both subgraphs, ready, and the indexer beside them. */
async function startSubgraphs(
  run: Run,
  options: BenchOptions,
  env: Record<string, string>,
  urls: { documentsUrl: string; searchUrl: string },
): Promise<Subgraphs> {
  const subgraph = (name: 'documents' | 'search') =>
    startChild({
      name,
      script: join(here, 'launch-subgraph.ts'),
      args: [name],
      env,
      logFile: run.logFile(name),
      ipc: true,
      nodeArgs: cpuProfArgs(options, name),
    });
  const documents = subgraph('documents');
  const search = subgraph('search');
  // The indexer makes the write mix's documents searchable, as in production.
  const indexer = startChild({
    name: 'indexer',
    script: join(root, 'indexer/main.ts'),
    // A free port for its health and metrics: the default is the one `npm start` uses.
    env: { ...env, INDEXER_PORT: '0' },
    logFile: run.logFile('indexer'),
  });
  run.children.push(documents, search, indexer);
  for (const [child, url] of [
    [documents, urls.documentsUrl],
    [search, urls.searchUrl],
  ] as const) {
    await waitUntil(child.name, async () => (await fetch(url.replace('/graphql', '/health/live'))).ok, {
      child,
    });
  }
  return {
    documents,
    search,
    ...urls,
    counts: async () => ({
      ...(await documents.ask<{ counts: Record<string, number> }>({ type: 'counts' })).counts,
      ...(await search.ask<{ counts: Record<string, number> }>({ type: 'counts' })).counts,
    }),
  };
}

/** A user and a partner token per tenant, and one token per gateway's probe tenant. */
async function mintTokens(
  devKey: DevSigningKey,
  corpus: Corpus,
  probed: readonly GatewayName[],
): Promise<{ tokens: Tokens; probeTokens: Partial<Record<GatewayName, string>> }> {
  const ttl = '6h';
  const tokens: Tokens = {
    user: await Promise.all(
      corpus.tenants.map((tenantId) => mintDevToken(devKey, { tenantId, ttl, tier: unlimitedTier })),
    ),
    partner: await Promise.all(
      corpus.tenants.map((tenantId) =>
        mintDevToken(devKey, {
          tenantId,
          ttl,
          tier: unlimitedTier,
          partner: true,
          scopes: ['documents:read'],
        }),
      ),
    ),
    rateLimited: await Promise.all(corpus.tenants.map((tenantId) => mintDevToken(devKey, { tenantId, ttl }))),
  };
  const probeTokens = Object.fromEntries(
    await Promise.all(
      probed.map(
        async (name) => [name, await mintDevToken(devKey, { tenantId: `probe-${name}`, ttl })] as const,
      ),
    ),
  );
  return { tokens, probeTokens };
}

/** One load-generator process for the whole run, fed a spec per scenario over IPC. */
async function startLoadRunner(run: Run): Promise<RunLoad> {
  const runner = startChild({
    name: 'load-runner',
    script: join(here, 'load-runner.ts'),
    logFile: run.logFile('load-runner'),
    ipc: true,
    // Every response's bytes arrive in a fresh ArrayBuffer, and by default V8 starts a full GC whenever
    // those pass a small external-memory limit of their own, a pause the runner would read as latency.
    // Counted in the heap's limit, they are collected with the rest (see docs/benchmarks.md).
    nodeArgs: ['--external-memory-accounted-in-global-limit'],
  });
  run.children.push(runner);
  await runner.ready;
  return async (spec, hooks = {}) => {
    // With a flood, the fixed-rate phase runs twice: alone, then flooded.
    const seconds =
      spec.warmupSeconds + spec.durationSeconds + (spec.fixed?.durationSeconds ?? 0) * (spec.flood ? 2 : 1);
    const onMessage = (message: { type?: string }) => {
      if (message?.type === 'measured') hooks.onMeasured?.();
      if (message?.type === 'fixed-phase') hooks.onFixedPhase?.();
    };
    runner.process.on('message', onMessage);
    try {
      const reply = await runner.ask<{ result?: RunnerResult; error?: string }>(
        { type: 'run', spec },
        (seconds + 60) * 1000,
      );
      if (!reply.result) throw new Error(`load runner failed: ${reply.error}`);
      return reply.result;
    } finally {
      runner.process.off('message', onMessage);
    }
  };
}

async function warmSubgraphs(
  runLoad: RunLoad,
  options: BenchOptions,
  subgraphs: Subgraphs,
  warm: ReturnType<typeof subgraphWarmup>,
): Promise<void> {
  const warmSeconds = options.warmup;
  log(`warming the subgraphs for ${2 * warmSeconds} s`);
  for (const [label, url, list] of [
    ['search', subgraphs.searchUrl, warm.search],
    ['documents', subgraphs.documentsUrl, warm.documents],
  ] as const) {
    const warmed = await runLoad({
      url,
      connections: options.connections,
      warmupSeconds: warmSeconds / 2,
      durationSeconds: warmSeconds / 2,
      requests: list,
    });
    if (warmed.max.graphqlErrors + warmed.max.non2xx > 0) log(`subgraph warm-up of ${label} saw errors`);
  }
}

/**
 * Every gateway starts up front and stays up (an idle one costs nothing), then each scenario runs
 * on every gateway back to back. The gateways a scenario compares are then measured a few minutes
 * apart rather than a quarter of an hour, so a VM whose speed changes mid-run (its neighbours)
 * skews the comparison far less, and `machineSpeed` before each cell shows how much it did.
 * Each gateway but the ceiling is probed once: the port calls of one search page, and the
 * partner's persisted query registered (APQ) before any hash-only request.
 */
async function startGateways(
  run: Run,
  options: BenchOptions,
  order: readonly GatewayName[],
  context: {
    env: Record<string, string>;
    redisUrl: string | undefined;
    manifestPath: string;
    subgraphs: Subgraphs;
    readiness: RunnerRequest;
    probeTokens: Partial<Record<GatewayName, string>>;
    registration: RunnerRequest;
    gateways: BenchResult['gateways'];
  },
): Promise<GatewayUnderTest[]> {
  const { subgraphs, readiness } = context;
  const running: GatewayUnderTest[] = [];
  let ceilingBody: string | undefined;
  for (const name of order) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/graphql`;
    const started = performance.now();
    const child = startGateway(name, {
      env: context.env,
      port,
      redisUrl: context.redisUrl,
      logFile: run.logFile(name),
      work: run.work,
      ceilingBody,
      manifestPath: context.manifestPath,
      nodeArgs: ['--import', join(here, 'request-timer.ts'), ...cpuProfArgs(options, name)],
    });
    run.children.push(child);
    await waitUntil(name, async () => (await postJson(url, readiness)).status === 200, { child });
    const startSeconds = (performance.now() - started) / 1000;
    log(`${name} ready in ${startSeconds.toFixed(1)} s`);
    const gatewayResult: GatewayResult = { scenarios: {}, peakRssMb: 0, startSeconds };
    context.gateways[name] = gatewayResult;
    running.push({ name, child, url });
    if (name === 'ceiling') continue;
    const before = await subgraphs.counts();
    const page = await postJson(url, probePage(context.probeTokens[name]!));
    if (page.text.includes('"errors"'))
      log(`${name}: search page returned errors: ${page.text.slice(0, 300)}`);
    gatewayResult.searchPageCalls = portCalls(diffCounts(await subgraphs.counts(), before));
    // Remember a full search page (20 hits of a common term) for the ceiling to serve.
    const full = await postJson(url, readiness);
    if (!full.text.includes('"errors"')) ceilingBody ??= full.text;
    const registered = await postJson(url, context.registration);
    if (registered.status !== 200) log(`${name}: APQ registration answered ${registered.status}`);
  }
  return running;
}

/** Each scenario on every gateway in turn; Quarry runs first in each, and its maximum sets everyone's fixed rate. */
async function measureScenarios(
  options: BenchOptions,
  context: {
    loads: Record<ScenarioName, ScenarioLoad>;
    running: readonly GatewayUnderTest[];
    subgraphs: Subgraphs;
    runLoad: RunLoad;
    gateways: BenchResult['gateways'];
    emptyRedis: () => Promise<void>;
  },
): Promise<void> {
  machineSpeed(300); // The probe's own JIT warm-up, so the first reading is not low.
  const quarryMax: Partial<Record<ScenarioName, number>> = {};
  let cell = 0;
  for (const scenario of options.scenarios) {
    const load = context.loads[scenario];
    // The noisy neighbour is measured at a fixed rate, so it always has one.
    const noisy = scenario === 'noisy-neighbour';
    const fixedSeconds = noisy ? options.victimDuration : options.fixedDuration;
    for (const gateway of context.running) {
      if (gateway.name === 'ceiling' && !ceilingScenarios.includes(scenario)) continue;
      cell += 1;
      const spec: RunnerSpec = {
        url: gateway.url,
        connections: options.connections,
        warmupSeconds: options.warmup,
        durationSeconds: options.duration,
        fixed:
          fixedSeconds === 0
            ? undefined
            : {
                durationSeconds: fixedSeconds,
                ...(noisy
                  ? { rate: victimRate }
                  : quarryMax[scenario]
                    ? { rate: quarryMax[scenario] * options.rate }
                    : { fraction: options.rate }),
              },
        requests: load.requests,
        // Each cell its own stretch of the sequence, so no gateway finds another's queries in the subgraphs' caches.
        ...(load.unique ? { unique: { ...load.unique, offset: cell * 10_000_000 } } : {}),
        ...(load.flood ? { flood: load.flood } : {}),
      };
      log(`${scenario} / ${gateway.name}`);
      // Every cell starts with Redis empty: the subgraphs' caches are shared, so a gateway measured after
      // another would otherwise find the pages of the scenario's queries already cached for it.
      await context.emptyRedis();
      const measured = await measureCell(gateway, spec, load, context);
      context.gateways[gateway.name]!.scenarios[scenario] = measured;
      if (gateway.name === 'quarry') quarryMax[scenario] = measured.max.rps;
    }
  }
}

/** One scenario on one gateway, with the gateway's and the subgraphs' costs per response. */
async function measureCell(
  { name, child: gateway, url }: GatewayUnderTest,
  spec: RunnerSpec,
  load: ScenarioLoad,
  { subgraphs, runLoad }: { subgraphs: Subgraphs; runLoad: RunLoad },
): Promise<ScenarioResult> {
  const { documents, search } = subgraphs;
  const readShare = load.requests.filter((request) => !isWrite(request)).length / load.requests.length;
  // A second for the previous cell's stragglers (GC, in-flight refreshes) to finish first.
  await sleep(1000);
  const speed = machineSpeed();
  const refreshesBefore = await responseRefreshes(name, url);
  const rss = sampleRss(gateway.pid);
  // CPU and backend calls are counted from the end of the warm-up, like the responses they are divided by.
  let cpuBefore = 0;
  let subgraphCpuBefore = { documents: 0, search: 0 };
  let before: Promise<Record<string, number>> = Promise.resolve({});
  let timerReset: Promise<unknown> | undefined;
  const outcome = await runLoad(spec, {
    onMeasured() {
      cpuBefore = cpuMs(gateway.pid);
      subgraphCpuBefore = {
        documents: processTreeCpuMs(documents.pid),
        search: processTreeCpuMs(search.pid),
      };
      if (name !== 'ceiling') before = subgraphs.counts();
    },
    onFixedPhase() {
      timerReset = gateway.ask({ type: 'request-timer', reset: true });
    },
  });
  const peak = rss.stop();
  let fixedInGateway: ScenarioResult['fixedInGateway'];
  if (timerReset) {
    await timerReset;
    const { type: _, ...times } = await gateway.ask<RequestTimes>({ type: 'request-timer' });
    fixedInGateway = times;
  }
  const responses = outcome.max.requests + (outcome.fixed?.requests ?? 0);
  const calls = name === 'ceiling' ? {} : diffCounts(await subgraphs.counts(), await before);
  const reads = responses * readShare;
  const hitRate =
    name === 'ceiling' || load.flood || reads === 0
      ? undefined
      : Math.max(0, 1 - (calls.searchHttpRequests ?? 0) / reads);
  return {
    ...outcome,
    machineSpeed: speed,
    peakRssMb: peak,
    cpuMsPerRequest: responses ? (cpuMs(gateway.pid) - cpuBefore) / responses : 0,
    subgraphCpuMsPerRequest: {
      documents: responses ? (processTreeCpuMs(documents.pid) - subgraphCpuBefore.documents) / responses : 0,
      search: responses ? (processTreeCpuMs(search.pid) - subgraphCpuBefore.search) / responses : 0,
    },
    backendCallsPerRequest: Object.fromEntries(
      Object.entries(calls).map(([method, count]) => [method, responses ? count / responses : 0]),
    ),
    ...(refreshesBefore === undefined
      ? {}
      : { responseRefreshes: ((await responseRefreshes(name, url)) ?? 0) - refreshesBefore }),
    ...(fixedInGateway ? { fixedInGateway } : {}),
    ...(hitRate === undefined ? {} : { hitRate }),
  };
}

/** Each gateway's peak memory over the whole run, read just before it stops. */
async function stopGateways(
  run: Run,
  running: readonly GatewayUnderTest[],
  gateways: BenchResult['gateways'],
): Promise<void> {
  for (const { name, child } of running) {
    gateways[name]!.peakRssMb = peakRssMb(child.pid);
    await child.stop();
    run.children.splice(run.children.indexOf(child), 1);
  }
}

function quarryRatios(
  gateways: BenchResult['gateways'],
  order: readonly GatewayName[],
  scenarios: readonly ScenarioName[],
): BenchResult['ratios'] {
  const result: BenchResult['ratios'] = {};
  const quarry = gateways.quarry;
  for (const peer of order) {
    const theirs = gateways[peer];
    if (peer === 'quarry' || !quarry || !theirs) continue;
    const ratios: Partial<Record<ScenarioName, { goodRps: number; p99Fixed?: number }>> = {};
    for (const scenario of scenarios) {
      const ours = quarry.scenarios[scenario];
      const other = theirs.scenarios[scenario];
      if (!ours || !other || other.max.goodRps === 0) continue;
      ratios[scenario] = {
        goodRps: ours.max.goodRps / other.max.goodRps,
        ...(ours.fixed && other.fixed?.latencyMs.p99
          ? { p99Fixed: ours.fixed.latencyMs.p99 / other.fixed.latencyMs.p99 }
          : {}),
      };
    }
    result[peer] = ratios;
  }
  return result;
}

/** The run's JSON and Markdown, stamped with its start, and the Markdown again as `latest.md`. */
function writeResults(
  result: BenchResult,
  out: string,
  startedAt: Date,
): { jsonPath: string; markdownPath: string } {
  mkdirSync(out, { recursive: true });
  const stamp = startedAt
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
  const jsonPath = join(out, `${stamp}.json`);
  const markdownPath = join(out, `${stamp}.md`);
  const markdown = renderMarkdown(result);
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(markdownPath, markdown);
  writeFileSync(join(out, 'latest.md'), markdown);
  return { jsonPath, markdownPath };
}

/**
 * Every gateway, the ceiling included, runs with `request-timer.ts` loaded and
 * an IPC channel to read it; none sends `ready`, so readiness is checked over
 * HTTP instead.
 */
function startGateway(
  name: GatewayName,
  context: {
    env: Record<string, string>;
    port: number;
    redisUrl?: string;
    logFile: string;
    work: string;
    ceilingBody?: string;
    nodeArgs: string[];
    manifestPath: string;
  },
): Child {
  const { env, port, logFile, nodeArgs, manifestPath } = context;
  const start = (script: string, childEnv: Record<string, string>) =>
    startChild({ name, script, env: childEnv, logFile, nodeArgs, ipc: true });
  switch (name) {
    case 'quarry':
    case 'quarry-nocache':
    case 'quarry-local':
      return start(join(root, 'gateway/main.ts'), {
        ...env,
        PORT: String(port),
        // The same gateway without its response cache: what the gateway path itself costs.
        ...(name === 'quarry-nocache' ? { RESPONSE_CACHE_TTL_SECONDS: '0' } : {}),
        // One replica without Redis: response cache and rate limit in process, as `npm start` runs.
        ...(context.redisUrl && name !== 'quarry-local' ? { REDIS_URL: context.redisUrl } : {}),
        // The peers have no rate limit, and the cached and persisted scenarios send far more than a
        // standard tenant's 50 requests per second, so their tokens carry an unlimited tier. The limiter
        // still runs (at this tier a replica leases 10,000 tokens per Redis call, as a busy production
        // tenant would); it just never refuses, so the bench measures serving, not 429s. The noisy
        // neighbour's tokens keep the production tiers: a flood meets Quarry as deployed.
        RATE_LIMIT_TIERS: `${defaultRateLimitTiers},${unlimitedTier}=1000000/1000000`,
        // Partners run only safelisted operations in Quarry; the peers take the same hash through APQ.
        PERSISTED_QUERY_MANIFEST: manifestPath,
      });
    case 'apollo':
      return start(join(here, 'peers/apollo-gateway.ts'), { ...env, PORT: String(port) });
    case 'hive-cache':
    case 'hive-cache-redis':
    case 'hive-rust':
      return start(join(here, 'peers/hive-gateway.ts'), {
        ...env,
        PORT: String(port),
        HIVE_PLANNER: name === 'hive-rust' ? 'rust' : 'js',
        // Redis where Quarry uses it; without redis-server, Quarry runs without it too, so Hive caches in memory.
        HIVE_RESPONSE_CACHE: name === 'hive-cache-redis' && context.redisUrl ? 'redis' : 'memory',
        ...(context.redisUrl ? { REDIS_URL: context.redisUrl } : {}),
      });
    case 'ceiling': {
      const responsePath = join(context.work, 'ceiling-response.json');
      writeFileSync(responsePath, context.ceilingBody ?? '{"data":null}');
      return start(join(here, 'peers/ceiling.ts'), { PORT: String(port), RESPONSE_PATH: responsePath });
    }
  }
}

if (import.meta.main) {
  const options = parseOptions(process.argv);
  const { markdownPath, jsonPath } = await runBench(options);
  process.stdout.write(`${readFileSync(markdownPath, 'utf8')}\nwritten: ${jsonPath}\n`);
}

import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runSpec } from '../../bench/load-runner.ts';
import { type BenchResult, refreshesIn } from '../../bench/run.ts';
import { scenarioNames } from '../../bench/scenarios.ts';
import { createMetrics } from '../../server/observability/metrics.ts';

const run = promisify(execFile);

/**
 * The benchmark in miniature: it must start everything, run every scenario
 * and write a well-formed result. It asserts nothing about speed; a shared
 * machine can't promise any. It starts several gateways and takes minutes, so
 * it runs under `npm run test:bench` (vitest.bench.config.ts), not in the default suite.
 */
describe('npm run bench (smoke)', () => {
  let out: string | undefined;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('runs Quarry, plain Apollo, Hive with the Rust planner and the ceiling on a tiny corpus and writes JSON and markdown', async () => {
    out = await mkdtemp(join(tmpdir(), 'quarry-bench-smoke-'));
    await run(
      process.execPath,
      [
        'bench/run.ts',
        // The fixed-rate phase is skipped here to stay near a minute; the tests below cover it.
        ...['--documents', '300', '--duration', '1', '--fixed-duration', '0', '--victim-duration', '1'],
        ...[
          '--warmup',
          '0.2',
          '--connections',
          '4',
          '--gateways',
          'quarry,apollo,hive-rust,ceiling',
          '--out',
          out,
        ],
      ],
      { timeout: 590_000 },
    );
    const files = await readdir(out);
    const jsonFile = files.find((file) => file.endsWith('.json'));
    expect(jsonFile).toBeDefined();
    expect(files).toContain('latest.md');
    const result = JSON.parse(await readFile(join(out, jsonFile!), 'utf8')) as BenchResult;

    expect(result.corpus.documents).toBe(300);
    expect(Object.keys(result.gateways).sort()).toEqual(['apollo', 'ceiling', 'hive-rust', 'quarry']);
    for (const name of ['quarry', 'apollo', 'hive-rust'] as const) {
      const gateway = result.gateways[name]!;
      expect(Object.keys(gateway.scenarios).sort()).toEqual([...scenarioNames].sort());
      for (const scenario of Object.values(gateway.scenarios)) {
        expect(scenario.max.rps).toBeGreaterThan(0);
        expect(scenario.max.latencyMs.p50).toBeGreaterThan(0);
        expect(scenario.peakRssMb).toBeGreaterThan(0);
      }
      // Quarry's partner safelist and rate limit must not turn the bench's requests into refusals.
      for (const [scenario, outcome] of Object.entries(gateway.scenarios)) {
        if (scenario !== 'noisy-neighbour') expect(outcome.max.non2xx + outcome.max.graphqlErrors).toBe(0);
      }
      // Every cache misses on the unique scenario, whatever the gateway.
      expect(gateway.scenarios.unique!.hitRate).toBeLessThan(0.05);
      const noisy = gateway.scenarios['noisy-neighbour']!;
      expect(noisy.fixed!.requests).toBeGreaterThan(0);
      expect(noisy.underFlood!.requests).toBeGreaterThan(0);
      // Exactly one search page: one search call, one batched document call.
      expect(gateway.searchPageCalls).toEqual({ search: 1, findByIds: 1 });
    }
    // Read from Quarry's /metrics; the peers have no such count.
    expect(result.gateways.quarry!.scenarios.search!.responseRefreshes).toBeTypeOf('number');
    expect(result.gateways.apollo!.scenarios.search!.responseRefreshes).toBeUndefined();
    expect(result.gateways.ceiling!.scenarios.search!.max.rps).toBeGreaterThan(0);
    expect(result.ratios.apollo?.search?.goodRps).toBeGreaterThan(0);
    const markdown = await readFile(join(out, 'latest.md'), 'utf8');
    expect(markdown).toContain('| Quarry |');
    expect(markdown).toContain('@apollo/gateway (plain)');
  }, 600_000);

  it("times each gateway's fixed-rate phase in its request handler, inside the load generator's round trips", async () => {
    const fixedOut = await mkdtemp(join(tmpdir(), 'quarry-bench-smoke-fixed-'));
    try {
      await run(
        process.execPath,
        [
          'bench/run.ts',
          ...['--documents', '300', '--duration', '0.5', '--fixed-duration', '1', '--warmup', '0.2'],
          ...['--connections', '4', '--scenarios', 'search', '--gateways', 'quarry,ceiling'],
          ...['--out', fixedOut],
        ],
        { timeout: 60_000 },
      );
      const jsonFile = (await readdir(fixedOut)).find((file) => file.endsWith('.json'));
      const result = JSON.parse(await readFile(join(fixedOut, jsonFile!), 'utf8')) as BenchResult;
      for (const name of ['quarry', 'ceiling'] as const) {
        const search = result.gateways[name]!.scenarios.search!;
        const handler = search.fixedInGateway!;
        // Reset as the fixed phase starts, so it counts that phase's requests and not the ones before.
        expect(handler.requests).toBeGreaterThanOrEqual(search.fixed!.requests);
        expect(handler.requests).toBeLessThan(search.fixed!.requests + search.max.requests);
        expect(handler.p50).toBeGreaterThan(0);
        expect(handler.p50).toBeLessThanOrEqual(search.fixed!.latencyMs.p50);
        expect(handler.p99).toBeGreaterThanOrEqual(handler.p50);
      }
      const markdown = await readFile(join(fixedOut, 'latest.md'), 'utf8');
      expect(markdown).toContain("in the gateway's request handler");
    } finally {
      await rm(fixedOut, { recursive: true, force: true });
    }
  }, 70_000);
});

describe('bench result parsing', () => {
  it("counts response cache refreshes in Quarry's metrics, and nothing else", async () => {
    const metrics = createMetrics({ service: 'gateway' });
    metrics.events.cacheLookup('response', 'refresh');
    metrics.events.cacheLookup('response', 'refresh');
    metrics.events.cacheLookup('response', 'hit');
    metrics.events.cacheLookup('search', 'refresh');
    expect(refreshesIn(await metrics.registry.metrics())).toBe(2);
  });

  it('holds a fixed request rate in the load runner', async () => {
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.end('{"data":{}}'));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const { port } = server.address() as AddressInfo;
      const phases: string[] = [];
      const result = await runSpec(
        {
          url: `http://127.0.0.1:${port}/graphql`,
          connections: 4,
          warmupSeconds: 0.2,
          durationSeconds: 0.5,
          fixed: { durationSeconds: 1, rate: 40 },
          requests: [{ headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }],
        },
        { onMeasured: () => phases.push('measured'), onFixedPhase: () => phases.push('fixed') },
      );
      expect(phases).toEqual(['measured', 'fixed']);
      expect(result.max.rps).toBeGreaterThan(0);
      expect(result.fixed?.targetRate).toBe(40);
      expect(result.phaseMachineSpeed.fixed).toBeGreaterThan(0);
      // Open loop: exactly rate × seconds requests are scheduled, and a fast server answers them all.
      expect(result.fixed!.requests).toBe(40);
    } finally {
      server.close();
    }
  });
});

/**
 * Runs autocannon against one gateway and one scenario, in its own process so
 * the load generator never shares an event loop with what it measures. Reads
 * a RunnerSpec as JSON from the file named by argv[2], prints a RunnerResult
 * as JSON on stdout, and exits. Every phase is bounded by its duration.
 *
 * Phases: a warm-up (discarded), a maximum-throughput run, then a fixed-rate
 * run (autocannon's `overallRate`), whose latencies are not hidden by
 * coordinated omission the way a saturated run's are.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface RunnerRequest {
  headers: Record<string, string>;
  body: string;
}

export interface RunnerSpec {
  url: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Omitted: no fixed-rate run. `rate` is absolute; else `fraction` of this run's own maximum. */
  fixed?: { durationSeconds: number; rate?: number; fraction?: number };
  /** Cycled in order, one per request. */
  requests: RunnerRequest[];
}

export interface PhaseResult {
  /** Responses received. */
  requests: number;
  seconds: number;
  rps: number;
  /** The rate asked for, in a fixed-rate phase. */
  targetRate?: number;
  latencyMs: { p50: number; p95: number; p99: number; mean: number; max: number };
  /** Responses with an HTTP status other than 2xx. */
  non2xx: number;
  /** 2xx responses whose body carries GraphQL `errors`. */
  graphqlErrors: number;
  /** Connection errors and timeouts. */
  socketErrors: number;
}

export interface RunnerResult {
  warmup: PhaseResult;
  max: PhaseResult;
  fixed?: PhaseResult;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function phase(spec: RunnerSpec, seconds: number, overallRate?: number): Promise<PhaseResult> {
  let next = 0;
  const latencies: number[] = [];
  let non2xx = 0;
  let finish: (result: autocannon.Result) => void = () => {};
  let fail: (error: unknown) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const options: autocannon.Options = {
    url: spec.url,
    connections: spec.connections,
    duration: seconds,
    overallRate,
    timeout: 10,
    // A response carrying GraphQL errors counts as a mismatch: failing fast must not look like speed.
    verifyBody: (body) => !String(body ?? '').includes('"errors"'),
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const chosen = spec.requests[next % spec.requests.length]!;
          next += 1;
          return { ...request, headers: chosen.headers, body: chosen.body };
        },
      },
    ],
  };
  const instance = autocannon(options, (error, result) => (error ? fail(error) : finish(result)));
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    latencies.push(responseTime);
    if (statusCode < 200 || statusCode >= 300) non2xx += 1;
  });
  const result = await done;
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((total, value) => total + value, 0);
  return {
    requests: latencies.length,
    seconds: result.duration,
    rps: latencies.length / result.duration,
    targetRate: overallRate,
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      mean: latencies.length ? sum / latencies.length : 0,
      max: sorted.at(-1) ?? 0,
    },
    non2xx,
    graphqlErrors: result.mismatches,
    socketErrors: result.errors + result.timeouts,
  };
}

const spec = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as RunnerSpec;
const warmup = await phase(spec, spec.warmupSeconds);
const max = await phase(spec, spec.durationSeconds);
const output: RunnerResult = { warmup, max };
if (spec.fixed) {
  const rate = Math.max(1, Math.round(spec.fixed.rate ?? max.rps * (spec.fixed.fraction ?? 0.5)));
  output.fixed = await phase(spec, spec.fixed.durationSeconds, rate);
}
process.stdout.write(`${JSON.stringify(output)}\n`);

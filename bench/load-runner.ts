/**
 * Runs autocannon against one gateway and one scenario, in its own process so
 * the load generator never shares an event loop with what it measures. Run
 * directly, it reads a RunnerSpec as JSON from the file named by argv[2],
 * prints a RunnerResult as JSON on stdout, and exits; forked by the bench, it
 * takes specs over IPC instead. Every phase is bounded by its duration.
 *
 * Phases: a warm-up (discarded), a maximum-throughput run, then a fixed-rate
 * run (autocannon's `overallRate`), whose latencies are not hidden by
 * coordinated omission the way a saturated run's are.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { machineSpeed } from './processes.ts';

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
  /**
   * `machineSpeed()` in this process just before each measured phase. The
   * fixed rate is set from the maximum, so a VM that slows down in between
   * runs the fixed phase at a larger share of what it can then serve.
   */
  phaseMachineSpeed: { max: number; fixed?: number };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Collected {
  latencies: number[];
  non2xx: number;
  mismatches: number;
  socketErrors: number;
}

/**
 * One autocannon instance of one connection; resolves when its run ends. The
 * requests are fixed, so autocannon builds each one's bytes once: a request
 * rebuilt per send (its `setupRequest`) made the load generator collect
 * garbage, and a pause in the load generator reads as latency.
 */
function cannon(
  url: string,
  seconds: number,
  requests: RunnerRequest[],
  into: Collected,
  overallRate?: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    // autocannon emits a response's `response` event just before it checks the body, on this one connection.
    let lastStatus = 0;
    const options: autocannon.Options = {
      url,
      connections: 1,
      duration: seconds,
      overallRate,
      timeout: 10,
      // autocannon checks for the end of a run on each sample tick (default 1 s); 100 ms keeps short runs short.
      sampleInt: 100,
      // A 2xx response carrying GraphQL errors counts as a mismatch: failing fast must not look like speed.
      // Other statuses count as non-2xx already, whatever their body says.
      verifyBody: (body) => lastStatus < 200 || lastStatus >= 300 || !String(body ?? '').includes('"errors"'),
      requests: requests.map(({ headers, body }) => ({ method: 'POST', headers, body })),
    };
    const instance = autocannon(options, (error, result) => {
      if (error) return reject(error);
      into.mismatches += result.mismatches;
      // autocannon counts a timeout in both `errors` and `timeouts`.
      into.socketErrors += result.errors;
      resolve();
    });
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastStatus = statusCode;
      into.latencies.push(responseTime);
      if (statusCode < 200 || statusCode >= 300) into.non2xx += 1;
    });
  });
}

/** The scenario's requests from `offset` on, wrapping: each connection cycles through all of them from its own start. */
function startingAt(requests: RunnerRequest[], offset: number): RunnerRequest[] {
  return [...requests.slice(offset), ...requests.slice(0, offset)];
}

/**
 * Every phase runs one single-connection instance per connection, each
 * starting at its own place in the scenario's requests, so that the
 * connections never send the same request in lockstep (which in-flight
 * deduplication would flatter).
 *
 * autocannon's `overallRate` gives each connection a quota per second and
 * lets it spend the quota at the start of the second, so every connection
 * would fire together on the second boundary. In a fixed-rate phase the
 * instances start evenly through the second, which spreads those bursts
 * out: at most one connection's share of a second's requests arrives
 * together, and one at a time, which keeps a fixed-rate run close to a
 * steady arrival rate. (Ten instances of three connections, as before, left
 * bursts big enough that even the bare-HTTP ceiling's p99 was 6 to 8 times
 * its p50.)
 */
async function phase(spec: RunnerSpec, seconds: number, overallRate?: number): Promise<PhaseResult> {
  const collected: Collected = { latencies: [], non2xx: 0, mismatches: 0, socketErrors: 0 };
  const started = performance.now();
  const count =
    overallRate === undefined
      ? spec.connections
      : Math.min(spec.connections, Math.max(1, Math.floor(overallRate)));
  const requestsFor = (i: number) =>
    startingAt(spec.requests, Math.floor((i * spec.requests.length) / count));
  // The window requests were sent in: the staggered instances each run the same whole seconds.
  let window = 0;
  const runs: Promise<void>[] = [];
  if (overallRate === undefined) {
    for (let i = 0; i < count; i += 1) runs.push(cannon(spec.url, seconds, requestsFor(i), collected));
  } else {
    // Quotas are per second, so a fixed-rate run lasts whole seconds.
    const wholeSeconds = Math.max(1, Math.ceil(seconds));
    for (let i = 0; i < count; i += 1) {
      const rate = Math.floor(overallRate / count) + (i < overallRate % count ? 1 : 0);
      await sleep(i === 0 ? 0 : 1000 / count);
      // Ends just before the next second's quota would fire: autocannon notices the end on its next sample tick.
      runs.push(cannon(spec.url, wholeSeconds - 0.15, requestsFor(i), collected, rate));
    }
    window = wholeSeconds;
  }
  await Promise.all(runs);
  const measured = (performance.now() - started) / 1000;
  // A gateway that cannot keep up answers over the whole staggered span, up to a second past the window:
  // divided by the window alone, its rate would read higher than it is.
  const keptUp = overallRate === undefined || collected.latencies.length >= 0.95 * overallRate * window;
  const elapsed = window && keptUp ? window : measured;
  const { latencies } = collected;
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((total, value) => total + value, 0);
  return {
    requests: latencies.length,
    seconds: elapsed,
    rps: latencies.length / elapsed,
    targetRate: overallRate,
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      mean: latencies.length ? sum / latencies.length : 0,
      max: sorted.at(-1) ?? 0,
    },
    non2xx: collected.non2xx,
    graphqlErrors: collected.mismatches,
    socketErrors: collected.socketErrors,
  };
}

/** Called as each measured phase starts, so a caller can measure it from the other side. */
export interface PhaseHooks {
  /** The warm-up is over: the maximum-throughput phase starts. */
  onMeasured?: () => void;
  onFixedPhase?: () => void;
}

export async function runSpec(spec: RunnerSpec, hooks: PhaseHooks = {}): Promise<RunnerResult> {
  const warmup = await phase(spec, spec.warmupSeconds);
  machineSpeed(200); // The probe's own JIT warm-up, so the first reading is not low.
  const speedAtMax = machineSpeed();
  hooks.onMeasured?.();
  const max = await phase(spec, spec.durationSeconds);
  const output: RunnerResult = { warmup, max, phaseMachineSpeed: { max: speedAtMax } };
  if (spec.fixed) {
    const rate = Math.max(1, Math.round(spec.fixed.rate ?? max.rps * (spec.fixed.fraction ?? 0.5)));
    output.phaseMachineSpeed.fixed = machineSpeed();
    hooks.onFixedPhase?.();
    output.fixed = await phase(spec, spec.fixed.durationSeconds, rate);
  }
  return output;
}

if (import.meta.main) {
  if (process.send) {
    // Forked by the bench: one runner serves every scenario, so each doesn't pay a process start.
    process.on('message', (message: { type?: string; spec?: RunnerSpec }) => {
      if (message?.type === 'stop') process.exit(0);
      if (message?.type !== 'run' || !message.spec) return;
      runSpec(message.spec, {
        onMeasured: () => process.send?.({ type: 'measured' }),
        onFixedPhase: () => process.send?.({ type: 'fixed-phase' }),
      }).then(
        (result) => process.send?.({ type: 'run', result }),
        (error: unknown) => process.send?.({ type: 'run', error: String(error) }),
      );
    });
    process.send({ type: 'ready' });
  } else {
    const spec = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as RunnerSpec;
    process.stdout.write(`${JSON.stringify(await runSpec(spec))}\n`);
  }
}

/**
 * Runs autocannon against one gateway and one scenario, in its own process so
 * the load generator never shares an event loop with what it measures. Run
 * directly, it reads a RunnerSpec as JSON from the file named by argv[2],
 * prints a RunnerResult as JSON on stdout, and exits; forked by the bench, it
 * takes specs over IPC instead. Every phase is bounded by its duration.
 *
 * Phases: a warm-up (discarded), a maximum-throughput run (autocannon, closed
 * loop), then a fixed-rate run from the open-loop generator (`open-loop.ts`),
 * timed from each request's due time so queueing is not hidden by coordinated
 * omission. With a `flood`, the fixed-rate run is repeated while the flood's
 * connections send their requests as fast as they are answered: the
 * noisy-neighbour scenario.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { runOpenLoop } from './open-loop.ts';
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
  /**
   * Every request unique: each request body's `__UNIQUE__` becomes a search query
   * built from these words and a counter starting at `offset`, never repeated in
   * one runner (give each gateway its own offset, so the subgraphs' shared caches miss too).
   */
  unique?: { primary: string[]; secondary: string[]; offset: number };
  /** Another tenant's requests, sent closed-loop on their own connections during a second fixed-rate run. */
  flood?: { connections: number; requests: RunnerRequest[] };
}

export interface PhaseResult {
  /** Responses received. */
  requests: number;
  seconds: number;
  rps: number;
  /**
   * Responses without an error per second. A refusal is answered faster than
   * a page, so an overloaded gateway's req/s counts its failures as work done.
   */
  goodRps: number;
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
  /** The fixed-rate run again, while the flood ran (noisy neighbour only). */
  underFlood?: PhaseResult;
  /** What the flooding tenant got meanwhile: refusals are expected there, not failures. */
  flood?: PhaseResult;
  /** The open-loop generator's own send lag p99 (ms) in the fixed-rate run: above a millisecond or two, it fell behind. */
  fixedSendLagP99Ms?: number;
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

function summarise(
  latencies: number[],
  seconds: number,
  counts: { non2xx: number; graphqlErrors: number; socketErrors: number },
  targetRate?: number,
): PhaseResult {
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((total, value) => total + value, 0);
  // A socket error or timeout has no response, so no latency: only the other two are among `latencies`.
  const good = latencies.length - counts.non2xx - counts.graphqlErrors;
  return {
    requests: latencies.length,
    seconds,
    rps: seconds > 0 ? latencies.length / seconds : 0,
    goodRps: seconds > 0 ? good / seconds : 0,
    targetRate,
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      mean: latencies.length ? sum / latencies.length : 0,
      max: sorted.at(-1) ?? 0,
    },
    ...counts,
  };
}

const uniquePlaceholder = '__UNIQUE__';
let uniqueCounter = 0;

/**
 * The n-th query of the unique sequence: a primary word and a secondary one, then a second primary
 * word once those pairs run out, so no two n below primary² × secondary give the same query.
 */
export function uniqueQuery(unique: { primary: string[]; secondary: string[] }, n: number): string {
  const { primary, secondary } = unique;
  const pairs = primary.length * secondary.length;
  const words = [primary[n % primary.length]!, secondary[Math.floor(n / primary.length) % secondary.length]!];
  const round = Math.floor(n / pairs) % primary.length;
  if (round > 0) words.push(primary[(n + round) % primary.length]!);
  return words.join(' ');
}

function withUnique(spec: RunnerSpec, body: string): string {
  if (!spec.unique || !body.includes(uniquePlaceholder)) return body;
  const query = uniqueQuery(spec.unique, spec.unique.offset + uniqueCounter++);
  return body.replace(uniquePlaceholder, query);
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
  spec: RunnerSpec,
  seconds: number,
  requests: RunnerRequest[],
  into: Collected,
  overallRate?: number,
): Promise<void> {
  const url = spec.url;
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
      requests: requests.map(({ headers, body }) => ({
        method: 'POST',
        headers,
        body,
        // Only the unique scenario rebuilds a request per send; the others keep autocannon's prebuilt bytes.
        ...(spec.unique && body.includes(uniquePlaceholder)
          ? { setupRequest: (request: autocannon.Request) => ({ ...request, body: withUnique(spec, body) }) }
          : {}),
      })),
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

const longSequence = 1000;

/** The scenario's requests from `offset` on, wrapping: each connection cycles through all of them from its own start. */
function startingAt(requests: RunnerRequest[], offset: number): RunnerRequest[] {
  return [...requests.slice(offset), ...requests.slice(0, offset)];
}

/**
 * The requests a phase sends, given how many the phases before it sent. A
 * long sequence (the realistic mix, the natural-language questions) goes on
 * where the last phase stopped: started over, the measured phase would
 * replay the warm-up's requests into the caches they had just filled, and a
 * gateway that answered more of them during the warm-up would find more of
 * its measured requests cached. A short list is cycled through in every
 * phase anyway.
 */
function continuing(requests: RunnerRequest[], sentBefore: number): RunnerRequest[] {
  return requests.length > longSequence ? startingAt(requests, sentBefore % requests.length) : requests;
}

/**
 * A closed-loop phase: one single-connection autocannon instance per
 * connection, each starting at its own place in the scenario's requests, so
 * that the connections never send the same request in lockstep (which
 * in-flight deduplication would flatter). A long sequence is dealt out
 * instead, every connection-th request to each, since every instance holds
 * the bytes of all its requests.
 */
async function phase(
  spec: RunnerSpec,
  seconds: number,
  requests = spec.requests,
  connections = spec.connections,
): Promise<PhaseResult> {
  const collected: Collected = { latencies: [], non2xx: 0, mismatches: 0, socketErrors: 0 };
  const started = performance.now();
  const runs: Promise<void>[] = [];
  for (let i = 0; i < connections; i += 1) {
    const share =
      requests.length > longSequence
        ? requests.filter((_, n) => n % connections === i)
        : startingAt(requests, Math.floor((i * requests.length) / connections));
    runs.push(cannon(spec, seconds, share, collected));
  }
  await Promise.all(runs);
  return summarise(collected.latencies, (performance.now() - started) / 1000, {
    non2xx: collected.non2xx,
    graphqlErrors: collected.mismatches,
    socketErrors: collected.socketErrors,
  });
}

/** An open-loop phase at `rate` requests per second (see `open-loop.ts`). */
async function fixedPhase(
  spec: RunnerSpec,
  seconds: number,
  rate: number,
  sentBefore: number,
): Promise<{ result: PhaseResult; sendLagP99Ms: number }> {
  const requests = spec.unique
    ? // Built up front, so no send pays for building its query.
      Array.from({ length: Math.max(1, Math.round(rate * seconds)) }, (_, i) => {
        const request = spec.requests[i % spec.requests.length]!;
        return { ...request, body: withUnique(spec, request.body) };
      })
    : continuing(spec.requests, sentBefore);
  const outcome = await runOpenLoop({
    url: spec.url,
    rate,
    seconds,
    requests,
    // Enough sockets that the generator's own pool rarely becomes the queue; bounded so a stalled gateway
    // cannot make it open thousands.
    connections: Math.max(spec.connections, 64),
  });
  return {
    result: summarise(
      outcome.latencies,
      outcome.seconds,
      { non2xx: outcome.non2xx, graphqlErrors: outcome.graphqlErrors, socketErrors: outcome.socketErrors },
      rate,
    ),
    sendLagP99Ms: outcome.sendLagP99Ms,
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
  const max = await phase(spec, spec.durationSeconds, continuing(spec.requests, warmup.requests));
  const output: RunnerResult = { warmup, max, phaseMachineSpeed: { max: speedAtMax } };
  if (spec.fixed) {
    const rate = Math.max(1, Math.round(spec.fixed.rate ?? max.rps * (spec.fixed.fraction ?? 0.5)));
    output.phaseMachineSpeed.fixed = machineSpeed();
    hooks.onFixedPhase?.();
    const sentBefore = warmup.requests + max.requests;
    const solo = await fixedPhase(spec, spec.fixed.durationSeconds, rate, sentBefore);
    output.fixed = solo.result;
    output.fixedSendLagP99Ms = solo.sendLagP99Ms;
    if (spec.flood) {
      const { connections, requests } = spec.flood;
      const [victim, flood] = await Promise.all([
        fixedPhase(spec, spec.fixed.durationSeconds, rate, sentBefore + solo.result.requests),
        phase(spec, spec.fixed.durationSeconds, requests, connections),
      ]);
      output.underFlood = victim.result;
      output.flood = flood;
    }
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

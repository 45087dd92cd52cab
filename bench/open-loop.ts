/**
 * An open-loop load generator: request i is due at `start + i / rate` and is
 * sent then, whether or not earlier requests have answered, and its latency is
 * measured from that due time. A server that stalls therefore shows the whole
 * stall in every request queued behind it, which a closed-loop generator
 * (autocannon's `overallRate` waits for each answer before the next send)
 * hides: coordinated omission.
 *
 * Hand-written over undici's Pool because autocannon, the load tool already in
 * use, has no open-loop mode. Bounded three ways: the count (rate × seconds),
 * the connections, and a per-request timeout; 127.0.0.1 only, as every
 * bench target is.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

export interface OpenLoopRequest {
  headers: Record<string, string>;
  body: string;
}

export interface OpenLoopOptions {
  url: string;
  /** Requests per second, evenly spaced. */
  rate: number;
  seconds: number;
  /** Cycled in order, one per request. */
  requests: OpenLoopRequest[];
  /** Upper bound on open sockets; requests due while all are busy wait, and the wait counts as latency. */
  connections: number;
  timeoutMs?: number;
  /** The body of a 2xx answer that counts as an error (GraphQL `errors`). */
  isError?: (status: number, body: string) => boolean;
}

export interface OpenLoopResult {
  /** Latency of each answered request from its due time (ms), in the order the answers came. */
  latencies: number[];
  /** How late the generator itself sent requests past their due time (ms): its own p99 shows whether it kept up. */
  sendLagP99Ms: number;
  non2xx: number;
  graphqlErrors: number;
  socketErrors: number;
  seconds: number;
}

const defaultIsError = (status: number, body: string) =>
  status >= 200 && status < 300 && body.includes('"errors"');

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const url = new URL(options.url);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new Error(`the open-loop generator only targets loopback, got ${url.hostname}`);
  }
  const isError = options.isError ?? defaultIsError;
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const intervalMs = 1000 / options.rate;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pool = new Pool(url.origin, {
    connections: options.connections,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const result: OpenLoopResult = {
    latencies: [],
    sendLagP99Ms: 0,
    non2xx: 0,
    graphqlErrors: 0,
    socketErrors: 0,
    seconds: 0,
  };
  const lags = new Float64Array(total);
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  const send = async (i: number, due: number) => {
    const { headers, body } = options.requests[i % options.requests.length]!;
    try {
      const response = await pool.request({
        path: url.pathname,
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text();
      result.latencies.push(performance.now() - due);
      if (response.statusCode < 200 || response.statusCode >= 300) result.non2xx += 1;
      else if (isError(response.statusCode, text)) result.graphqlErrors += 1;
    } catch {
      result.socketErrors += 1;
    }
  };
  try {
    let next = 0;
    while (next < total) {
      const now = performance.now();
      // Sends everything due by now: a late timer tick sends a small burst, each timed from its own due time.
      while (next < total && started + next * intervalMs <= now) {
        const due = started + next * intervalMs;
        lags[next] = now - due;
        inFlight.push(send(next, due));
        next += 1;
      }
      if (next < total) await sleep(Math.max(0, started + next * intervalMs - performance.now()));
    }
    await Promise.all(inFlight);
  } finally {
    await pool.destroy();
  }
  result.seconds = (performance.now() - started) / 1000;
  lags.sort();
  result.sendLagP99Ms = lags[Math.min(total - 1, Math.ceil(0.99 * total) - 1)] ?? 0;
  return result;
}

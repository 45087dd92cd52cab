/**
 * Loaded into every gateway under test (`--import`): times each HTTP request
 * in the gateway's request handler, from Node's `request` event to the
 * response's `finish`, into a histogram the bench resets and reads over IPC.
 * Set beside the load generator's latency for the same requests, it splits a
 * tail into what the handler spends and what lies outside it: the load
 * generator, the kernel and scheduler, and time a request waits in its
 * socket before Node parses it (behind other requests on a busy event loop,
 * or a GC pause). `finish` comes after whatever the handler does in the
 * same turn once the response is written (Quarry's log line and metrics),
 * which the client does not wait for, so that is counted in too.
 *
 * It costs each request a listener and a histogram record, a microsecond or
 * two, in every gateway alike.
 */
import { type IncomingMessage, Server, type ServerResponse } from 'node:http';
import { createHistogram } from 'node:perf_hooks';

export interface RequestTimes {
  type: 'request-timer';
  requests: number;
  p50: number;
  p95: number;
  p99: number;
}

// Microseconds, up to a minute, to three significant figures.
const histogram = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
const emit = Server.prototype.emit;
Server.prototype.emit = function timedEmit(this: Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'request') {
    const response = (args as [IncomingMessage, ServerResponse])[1];
    const started = performance.now();
    response.once('finish', () => {
      histogram.record(Math.max(1, Math.round((performance.now() - started) * 1000)));
    });
  }
  return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
};

const milliseconds = (percentile: number) => histogram.percentile(percentile) / 1000;

process.on('message', (message: { type?: string; reset?: boolean }) => {
  if (message?.type !== 'request-timer') return;
  if (message.reset) histogram.reset();
  const times: RequestTimes = {
    type: 'request-timer',
    requests: histogram.count,
    p50: milliseconds(50),
    p95: milliseconds(95),
    p99: milliseconds(99),
  };
  process.send?.(times);
});
// The channel must not keep a gateway alive that its own shutdown would end.
process.channel?.unref();

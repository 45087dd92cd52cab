import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { trace } from '@opentelemetry/api';

/** The response header that returns the id, and the request header the gateway passes to subgraphs. */
export const requestIdHeader = 'x-request-id';

// W3C trace context: version-traceid-parentid-flags; an all-zero trace id is invalid.
const traceparentPattern = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;
const zeroTraceId = '0'.repeat(32);
/** A caller's own id is kept only when it cannot break a log line or a header. */
const callerIdPattern = /^[\w.:@-]{1,128}$/;

/**
 * The id of one request: the trace id when tracing is on (the HTTP server
 * span, which continues an incoming `traceparent`), else the trace id of an
 * incoming `traceparent`, else the caller's `x-request-id` (the gateway sends
 * its own to the subgraphs), else a new random one in the trace id's format.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const activeTraceId = trace.getActiveSpan()?.spanContext().traceId;
  if (activeTraceId && activeTraceId !== zeroTraceId) return activeTraceId;
  const traceparent = traceparentPattern.exec(String(headers.traceparent ?? '').trim());
  if (traceparent?.[1] && traceparent[1] !== zeroTraceId) return traceparent[1];
  const callerId = headers[requestIdHeader];
  if (typeof callerId === 'string' && callerIdPattern.test(callerId)) return callerId;
  // A UUID's 122 random bits from Node's buffered entropy: a fraction of the cost of fresh random bytes.
  return randomUUID().replaceAll('-', '');
}

// Ambient per-request context, like the active span the logger also reads: async context is per
// process by nature, and carrying the id through every call instead would reach into every module.
const currentRequest = new AsyncLocalStorage<string>();

/**
 * Runs `handle` as request `request`: the id goes back in the `x-request-id`
 * response header, and every log line written while it runs carries it as
 * `request_id` (hive-gateway's useRequestId, for a plain node:http server).
 */
export function withRequestId<T>(request: IncomingMessage, response: ServerResponse, handle: () => T): T {
  const id = requestIdOf(request.headers);
  response.setHeader(requestIdHeader, id);
  return currentRequest.run(id, handle);
}

/** The id of the request being handled here, if any. */
export function currentRequestId(): string | undefined {
  return currentRequest.getStore();
}

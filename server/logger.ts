import { trace } from '@opentelemetry/api';
import { pino } from 'pino';
import { currentRequestId } from './observability/request-id.ts';

export type Logger = pino.Logger;

export interface LoggerOptions {
  /** pino level; default `info`. */
  level: string;
  /** Which service writes the line; omit it when each service adds its own through `child`. */
  service?: string;
  /** Where lines go; default stdout. Tests pass a stream to read them back. */
  destination?: pino.DestinationStream;
}

/**
 * Paths that may carry credentials; pino replaces them before serialising.
 * Nothing in Quarry logs headers or principals on purpose; this is the net
 * for the day something does.
 */
const redactedPaths = [
  'authorization',
  'token',
  'cookie',
  '*.authorization',
  '*.token',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  'principal.token',
  '*.principal.token',
];

/**
 * Every line written while a request is handled carries its `request_id`,
 * tracing or not, the same in the gateway's and the subgraphs' lines. While
 * a span is active the line also carries its `trace_id` and `span_id`, so a
 * log search leads to the trace and back.
 */
function requestFields(): Record<string, string> {
  const requestId = currentRequestId();
  const spanContext = trace.getActiveSpan()?.spanContext();
  return {
    ...(requestId ? { request_id: requestId } : {}),
    ...(spanContext ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {}),
  };
}

export function createLogger({ level, service, destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: service ? { service } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      mixin: requestFields,
    },
    destination,
  );
}

import { trace } from '@opentelemetry/api';
import { pino } from 'pino';

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
 * Every line written while a span is active carries its `trace_id` and
 * `span_id`, so a log search leads to the trace and back. Without tracing
 * there is no active span and the fields are left out.
 */
function traceFields(): Record<string, string> {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {};
}

export function createLogger({ level, service, destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: service ? { service } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
    },
    destination,
  );
}

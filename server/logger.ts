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

/** Paths that may carry credentials; pino replaces them before serialising. */
const redactedPaths = [
  'authorization',
  'token',
  '*.authorization',
  '*.token',
  'req.headers.authorization',
  'headers.authorization',
];

export function createLogger({ level, service, destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: service ? { service } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

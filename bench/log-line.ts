/**
 * What one request log line costs in CPU, side by side in one process: the
 * line through the service logger, with its redaction net (the baseline),
 * and through `createRequestLog`, which skips the net. Lines go to a
 * destination that drops them, so this times building and serialising a
 * line, not the write to stdout.
 *
 *   node bench/log-line.ts
 */
import { createLogger } from '../server/logger.ts';
import { createRequestLog } from '../server/observability/use-request-log.ts';

/** Nanoseconds per line, the median of `rounds` alternating rounds of `lines` lines each. */
export function timeLogLines(lines: number, rounds = 7): { redacted: number; requestLog: number } {
  const logger = createLogger({ level: 'info', service: 'gateway', destination: { write: () => {} } });
  const logRequest = createRequestLog(logger, 'info');
  const outcome = {
    tenantId: 'tenant-07',
    operationName: 'SearchPage',
    startedAt: 0,
    cacheStatus: 'hit' as const,
  };
  const line = { tenant: 'tenant-07', operation: 'SearchPage', durationMs: 0.12, cache: 'hit', errors: [] };
  const perLine = (write: () => void) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < lines; i += 1) write();
    return Number(process.hrtime.bigint() - started) / lines;
  };
  const redacted: number[] = [];
  const requestLog: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    redacted.push(perLine(() => logger.info(line, 'request')));
    requestLog.push(perLine(() => logRequest(outcome)));
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return { redacted: median(redacted), requestLog: median(requestLog) };
}

if (import.meta.main) {
  const { redacted, requestLog } = timeLogLines(100_000);
  console.log(`through the redacting logger: ${(redacted / 1000).toFixed(1)} µs a line`);
  console.log(`createRequestLog:             ${(requestLog / 1000).toFixed(1)} µs a line`);
  console.log(`ratio: ${(redacted / requestLog).toFixed(2)}× (above 1: createRequestLog is cheaper)`);
}

import { describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.ts';
import { createRequestLog } from '../../server/observability/use-request-log.ts';

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    service: 'gateway',
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

describe('logger', () => {
  it('redacts credentials wherever a line carries them', () => {
    const { logger, lines } = capturedLogger();
    logger.info(
      { authorization: 'Bearer a', upstream: { token: 't', headers: { authorization: 'Bearer b' } } },
      'call',
    );
    expect(lines[0]).toMatchObject({
      authorization: '[redacted]',
      upstream: { token: '[redacted]', headers: { authorization: '[redacted]' } },
    });
  });

  it('writes the request line with its fields and the service, and at warn when the service failed', () => {
    const { logger, lines } = capturedLogger();
    const logRequest = createRequestLog(logger, 'info');
    logRequest({
      tenantId: 'acme',
      operationName: 'Search',
      startedAt: performance.now(),
      cacheStatus: 'hit',
    });
    const failed = Object.assign(new Error('masked'), { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    logRequest({ tenantId: 'acme', operationName: null, startedAt: performance.now(), errors: [failed] });
    expect(lines[0]).toMatchObject({
      level: 'info',
      service: 'gateway',
      msg: 'request',
      tenant: 'acme',
      operation: 'Search',
      cache: 'hit',
      errors: [],
    });
    expect(lines[0]!.durationMs).toBeTypeOf('number');
    expect(lines[1]).toMatchObject({
      level: 'warn',
      operation: null,
      cache: 'none',
      errors: ['INTERNAL_SERVER_ERROR'],
    });
    // The parent keeps its redaction after the request line's child drops it.
    logger.info({ token: 'secret' }, 'after');
    expect(lines[2]!.token).toBe('[redacted]');
  });
});

import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { splitOperationsRoutes } from '../../server/http/operations-server.ts';
import { createLogger } from '../../server/logger.ts';

const requestFrom = (remoteAddress: string) => ({ socket: { remoteAddress } }) as unknown as IncomingMessage;

function recordingResponse() {
  const response = {
    statusCode: 0,
    writeHead(status: number) {
      response.statusCode = status;
    },
    end: vi.fn(),
  };
  return response as unknown as ServerResponse & { statusCode: number };
}

describe('/metrics on the client port, without METRICS_PORT', () => {
  it("answers callers on this machine only: every tenant's traffic is in it", async () => {
    const metrics = vi.fn((_request: IncomingMessage, response: ServerResponse) => {
      response.statusCode = 200;
      response.end('metrics');
    });
    const { clientRoutes } = await splitOperationsRoutes({
      health: {},
      metrics: { '/metrics': metrics },
      listener: undefined,
      logger: createLogger({ level: 'silent' }),
    });
    const serve = clientRoutes['/metrics'];
    if (!serve) throw new Error('no /metrics route');
    for (const local of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const response = recordingResponse();
      await serve(requestFrom(local), response);
      expect(response.statusCode, local).toBe(200);
    }
    for (const remote of ['10.1.2.3', '::ffff:192.168.1.20', '2001:db8::1']) {
      const response = recordingResponse();
      await serve(requestFrom(remote), response);
      expect(response.statusCode, remote).toBe(404);
    }
    expect(metrics).toHaveBeenCalledTimes(3);
  });
});

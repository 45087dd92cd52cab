import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ListeningServer, sendJson } from '../../server/http/http-server.ts';
import { startRouteServer } from '../../server/http/route-server.ts';
import { createLogger } from '../../server/logger.ts';

/** One raw HTTP/1.1 GET, so the request target can be one `fetch` would refuse to send; resolves with the status line. */
function statusLine(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.end(`GET ${target} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`),
    );
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString();
    });
    socket.on('close', () => resolve(received.split('\r\n', 1)[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('route server (the indexer’s health and metrics)', () => {
  let server: ListeningServer;

  beforeAll(async () => {
    server = await startRouteServer({
      routes: {
        '/health/live': (_request, response) => sendJson(response, 200, { status: 'ok' }),
        '/broken': () => {
          throw new Error('route bug');
        },
      },
      port: 0,
      host: '127.0.0.1',
      logger: createLogger({ level: 'silent' }),
    });
  });
  afterAll(() => server.close(100));

  it('answers a target that is not a URL with 400, and a route that throws with 500, and keeps serving', async () => {
    expect(await statusLine(server.port, 'http://[/health/live')).toBe('HTTP/1.1 400 Bad Request');
    expect(await statusLine(server.port, '/broken')).toBe('HTTP/1.1 500 Internal Server Error');
    expect(await statusLine(server.port, '/health/live')).toBe('HTTP/1.1 200 OK');
    expect(await statusLine(server.port, '/nowhere')).toBe('HTTP/1.1 404 Not Found');
  });
});

import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runOpenLoop } from '../../bench/open-loop.ts';

const request = { headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' };
let server: Server | undefined;

afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

async function serve(listener: RequestListener): Promise<string> {
  server = createServer(listener);
  await new Promise<void>((done) => server?.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

/** How long the stalled server holds its first answer: far above the send interval, so a queue must form. */
const stallMs = 400;

describe('open-loop generator', () => {
  it('keeps sending on schedule while a request stalls, and times the queued ones from their due time', async () => {
    let first = true;
    const arrivals: number[] = [];
    let releaseStall = () => {};
    const stalled = new Promise<void>((resolve) => {
      releaseStall = resolve;
    });
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        arrivals.push(performance.now());
        if (first) {
          first = false;
          // One connection: every later request waits behind this answer, as behind a blocked event loop.
          setTimeout(() => {
            releaseStall();
            res.end('{"data":{}}');
          }, stallMs);
        } else res.end('{"data":{}}');
      });
    });
    const result = await runOpenLoop({ url, rate: 50, seconds: 0.4, requests: [request], connections: 1 });
    await stalled;
    expect(result.latencies).toHaveLength(20);
    expect(result.socketErrors + result.non2xx + result.graphqlErrors).toBe(0);
    // A closed loop would time the second request from when it was sent, after the stall, as fast.
    // Here it was due 20 ms after the first and waited behind it: its latency holds most of the stall.
    expect(result.latencies[1]).toBeGreaterThan(stallMs - 20 - 50);
  });

  it('sends exactly rate × seconds requests and counts GraphQL errors in a 2xx body', async () => {
    let served = 0;
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        served += 1;
        res.end(served % 2 === 0 ? '{"errors":[{"message":"no"}]}' : '{"data":{}}');
      });
    });
    const result = await runOpenLoop({ url, rate: 100, seconds: 0.3, requests: [request], connections: 4 });
    expect(served).toBe(30);
    expect(result.latencies).toHaveLength(30);
    expect(result.graphqlErrors).toBe(15);
  });

  it('refuses a target that is not on loopback', async () => {
    await expect(
      runOpenLoop({
        url: 'http://192.0.2.1/graphql',
        rate: 1,
        seconds: 1,
        requests: [request],
        connections: 1,
      }),
    ).rejects.toThrow(/loopback/);
  });
});

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runSpec } from '../../bench/load-runner.ts';

const request = { headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' };
let server: Server | undefined;

afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A server that answers each request with `answer` once its body has arrived; resolves to its URL. */
async function serve(answer: (response: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((done) => server?.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

describe('load runner', () => {
  it('counts a refused request once: a non-2xx status with a GraphQL errors body is not also a 2xx error', async () => {
    const url = await serve((res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"errors":[{"message":"bad request"}]}');
    });
    const { max } = await runSpec({
      url,
      connections: 2,
      warmupSeconds: 0.2,
      durationSeconds: 0.5,
      requests: [request],
    });
    expect(max.requests).toBeGreaterThan(0);
    expect(max).toMatchObject({ non2xx: max.requests, graphqlErrors: 0, socketErrors: 0 });
  });

  it('counts only answers without an error as good req/s, in the closed and the open loop', async () => {
    // Every other answer is a fast failure, as an overloaded subgraph's refusals are.
    let answered = 0;
    const url = await serve((res) => {
      answered += 1;
      res.end(answered % 2 ? '{"data":{}}' : '{"errors":[{"message":"busy"}]}');
    });
    const result = await runSpec({
      url,
      connections: 2,
      warmupSeconds: 0.2,
      durationSeconds: 0.5,
      fixed: { durationSeconds: 1, rate: 40 },
      requests: [request],
    });
    for (const phase of [result.max, result.fixed!]) {
      expect(phase.graphqlErrors).toBeGreaterThan(0);
      expect(phase.goodRps).toBeCloseTo(
        ((phase.requests - phase.graphqlErrors) / phase.requests) * phase.rps,
      );
      expect(phase.goodRps).toBeLessThan(phase.rps);
    }
  }, 30_000);

  it('goes on through a long sequence from phase to phase rather than replaying the warm-up into the caches', async () => {
    // The realistic mix's shape: more distinct requests than a cell sends, each body different.
    const sequence = Array.from({ length: 5000 }, (_, i) => ({ ...request, body: `{"query":"{ q${i} }"}` }));
    const received = { warmup: new Set<string>(), max: new Set<string>(), fixed: new Set<string>() };
    let phase: keyof typeof received = 'warmup';
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      req.on('end', () => {
        received[phase].add(body);
        // Slow enough that no phase gets through the sequence.
        setTimeout(() => res.end('{"data":{}}'), 5);
      });
    });
    await new Promise<void>((done) => server?.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    await runSpec(
      {
        url,
        connections: 4,
        warmupSeconds: 0.5,
        durationSeconds: 0.5,
        fixed: { durationSeconds: 1, rate: 100 },
        requests: sequence,
      },
      { onMeasured: () => (phase = 'max'), onFixedPhase: () => (phase = 'fixed') },
    );
    const sentIn = (earlier: Set<string>, later: Set<string>) =>
      [...later].filter((body) => earlier.has(body));
    expect(received.warmup.size).toBeGreaterThan(20);
    expect(received.max.size).toBeGreaterThan(20);
    // Only a few are sent again: those cut off at a phase's end, and those of a connection that got
    // ahead of the others (the next phase goes on from the phase's total); started over, all would be.
    const before = new Set([...received.warmup, ...received.max]);
    const repeats = {
      max: sentIn(received.warmup, received.max).length / received.max.size,
      fixed: sentIn(before, received.fixed).length / received.fixed.size,
    };
    // Started over, nearly all are repeats (0.9 and 1 measured); going on, up to a quarter were, on a quiet
    // machine. The bounds leave room for connections that drift further apart on a busy one.
    expect(repeats.max).toBeLessThan(0.25);
    expect(repeats.fixed).toBeLessThan(0.5);
  }, 30_000);

  it('reports what a gateway that cannot keep up served at the fixed rate, not more', async () => {
    // One answer every 20 ms, whatever the concurrency: at most 50 a second.
    let queue = Promise.resolve();
    const url = await serve((res) => {
      queue = queue
        .then(() => sleep(20))
        .then(() => {
          res.end('{"data":{}}');
        });
    });
    const result = await runSpec({
      url,
      connections: 8,
      warmupSeconds: 0.3,
      durationSeconds: 1,
      // Twice what it can serve, as a slow peer is at 50% of Quarry's maximum: the open loop queues the rest.
      fixed: { durationSeconds: 1, rate: 100 },
      requests: [request],
    });
    expect(result.max.rps).toBeLessThanOrEqual(52.5);
    expect(result.fixed?.rps).toBeLessThanOrEqual(52.5);
    // It did serve at the fixed rate, about 50/s; the floor is low, since a loaded machine sends late.
    expect(result.fixed?.rps).toBeGreaterThan(15);
  }, 30_000);
});

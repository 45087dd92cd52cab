import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Far above the configured timeouts below, far below Node's defaults (60 s for headers, 300 s per request). */
const promptBoundMs = 5000;

function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.setEncoding('utf8');
  return once(socket, 'connect').then(() => socket);
}

/** Everything the server sends until it closes the connection, or what it sent by the bound. */
async function untilClosed(socket: Socket): Promise<{ closed: boolean; received: string }> {
  let received = '';
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  // A reset is the server closing while this side still writes: an answer, not a test failure.
  socket.on('error', () => {});
  const closed = await Promise.race([
    new Promise<true>((resolve) => socket.once('close', () => resolve(true))),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), promptBoundMs).unref()),
  ]);
  socket.destroy();
  return { closed, received };
}

describe('HTTP that cannot be held open', () => {
  let stack: TestStack;
  let token: string;

  beforeAll(async () => {
    stack = await startTestStack({
      env: {
        HTTP_HEADERS_TIMEOUT_MS: '500',
        HTTP_REQUEST_TIMEOUT_MS: '1000',
        MAX_BUFFERED_BODY_BYTES: '100000',
      },
    });
    token = await stack.token('tenant-a');
  });
  afterAll(() => stack.stop());

  const post = (headers: string[], length: number) =>
    [
      'POST /graphql HTTP/1.1',
      'host: localhost',
      'content-type: application/json',
      `content-length: ${length}`,
      ...headers,
      '',
      '',
    ].join('\r\n');

  it('answers 401 to a body without a token before the body arrives, and drops the connection', async () => {
    const socket = await openSocket(stack.gatewayUrl);
    // Declares almost 1 MiB and sends a few bytes of it: the answer must not wait for the rest.
    socket.write(`${post([], 1_000_000)}{"query":`);
    const { closed, received } = await untilClosed(socket);
    expect(received).toMatch(/^HTTP\/1\.1 401/);
    expect(received).toContain('UNAUTHENTICATED');
    expect(closed).toBe(true);
  });

  it('closes a connection that trickles its headers, by HTTP_HEADERS_TIMEOUT_MS', async () => {
    const socket = await openSocket(stack.gatewayUrl);
    socket.write('POST /graphql HTTP/1.1\r\nhost: localhost\r\n');
    const timer = setInterval(() => socket.write('x-trickle: 1\r\n'), 100);
    try {
      const { closed, received } = await untilClosed(socket);
      expect(closed).toBe(true);
      expect(received === '' || /^HTTP\/1\.1 408/.test(received)).toBe(true);
    } finally {
      clearInterval(timer);
    }
  });

  it('closes a slow body from a valid caller, by HTTP_REQUEST_TIMEOUT_MS', async () => {
    const socket = await openSocket(stack.gatewayUrl);
    socket.write(`${post([`authorization: Bearer ${token}`], 1000)}{"query":`);
    const { closed } = await untilClosed(socket);
    expect(closed).toBe(true);
  });

  it('refuses a body past the bytes buffered for all connections, with 503 and retry-after', async () => {
    // Two valid callers each hold most of the in-flight budget without finishing their bodies.
    const holders = await Promise.all([0, 1].map(() => openSocket(stack.gatewayUrl)));
    const answers = holders.map((socket) => untilClosed(socket));
    for (const socket of holders) {
      socket.write(`${post([`authorization: Bearer ${token}`], 90_000)}{"query":"${'x'.repeat(60_000)}`);
    }
    const results = await Promise.all(answers);
    const statuses = results.map(({ received }) => /^HTTP\/1\.1 (\d+)/.exec(received)?.[1]);
    expect(statuses).toContain('503');
    const busy = results.find(({ received }) => received.includes(' 503 '))?.received;
    expect(busy).toMatch(/retry-after: 1/i);
    expect(busy).toContain('SERVER_BUSY');
    // The bytes of bodies that never ended left the budget with their connections.
    const after = await stack.graphql('{ suggest(prefix: "a") }', { token });
    expect(after.status).toBe(200);
  });
});

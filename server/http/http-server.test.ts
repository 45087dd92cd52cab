import { request as httpRequest } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import { createTenantBulkheads } from '../resilience/tenant-bulkheads.ts';
import { createHttpServer, type ListeningServer, listen } from './http-server.ts';

interface CallerContext {
  caller: string;
}

const query = JSON.stringify({ query: '{ ok }' });

/** Sends a POST and destroys the socket as soon as the server has started on it. */
function sendAndLeave(url: string, started: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    request.on('error', () => resolve());
    request.on('close', () => resolve());
    request.end(query);
    void started.then(() => request.destroy());
  });
}

async function post(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: query,
  });
  return { status: response.status, body: await response.text() };
}

describe('the HTTP server with per-caller bulkheads', () => {
  let server: ListeningServer | undefined;
  let apollo: ApolloServer<CallerContext> | undefined;
  afterEach(async () => {
    await server?.close(0);
    await apollo?.stop();
  });

  it("frees a caller's slot when its client left before the body was read", async () => {
    apollo = new ApolloServer<CallerContext>({
      typeDefs: 'type Query { ok: Boolean }',
      resolvers: { Query: { ok: () => true } },
    });
    await apollo.start();
    let requests = 0;
    const firstStarted = Promise.withResolvers<void>();
    const firstLeft = Promise.withResolvers<void>();
    server = await listen(
      createHttpServer<CallerContext>({
        apollo,
        logger: createLogger({ level: 'silent' }),
        // The first request's context is ready only once its client is gone: the slot is then taken
        // for a request whose body can no longer arrive.
        async context(_request, clientGone) {
          if (++requests > 1) return { caller: 'tenant-a' };
          firstStarted.resolve();
          clientGone.addEventListener('abort', () => firstLeft.resolve(), { once: true });
          await firstLeft.promise;
          return { caller: 'tenant-a' };
        },
        callerBulkheads: {
          // One slot, no queue: a slot that is never freed refuses every later request at once.
          executions: createTenantBulkheads({ dependency: 'gateway', concurrency: 1, queue: 0 }),
          callerOf: (context) => context.caller,
        },
      }),
      0,
      '127.0.0.1',
    );

    const { url } = server;
    await sendAndLeave(url, firstStarted.promise);
    await firstLeft.promise;
    // The abandoned request frees its slot on its own; the caller's next request is served.
    await expect.poll(() => post(url).then((answer) => answer.status), { timeout: 10_000 }).toBe(200);
  });

  it('offers a small declared body to the shortcut before an execution slot, and a large or chunked one only after', async () => {
    const held = Promise.withResolvers<boolean>();
    const running = Promise.withResolvers<void>();
    apollo = new ApolloServer<CallerContext>({
      typeDefs: 'type Query { ok: Boolean, slow: Boolean }',
      resolvers: {
        Query: {
          ok: () => true,
          slow: () => {
            running.resolve();
            return held.promise;
          },
        },
      },
    });
    await apollo.start();
    const offered: unknown[] = [];
    server = await listen(
      createHttpServer<CallerContext>({
        apollo,
        logger: createLogger({ level: 'silent' }),
        context: async () => ({ caller: 'tenant-a' }),
        shortcut: async (_request, _response, body) => {
          offered.push(body);
          return { answered: false };
        },
        // One slot each, no queue: a second request waiting for an execution slot is refused at once.
        callerBulkheads: {
          executions: createTenantBulkheads({ dependency: 'gateway', concurrency: 1, queue: 0 }),
          shortcuts: createTenantBulkheads({ dependency: 'gateway', concurrency: 1, queue: 0 }),
          callerOf: (context) => context.caller,
        },
      }),
      0,
      '127.0.0.1',
    );
    const { url } = server;
    const send = (body: string, chunked = false) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chunked ? new Blob([body]).stream() : body,
        ...(chunked ? { duplex: 'half' } : {}),
      } as RequestInit).then((response) => response.status);

    const holding = send(JSON.stringify({ query: '{ slow }' }));
    await running.promise;
    expect(await send(JSON.stringify({ query: '{ ok }' }))).toBe(429);
    expect(offered).toHaveLength(2);
    // Past 16 KiB, and of unknown size, a body waits for its execution slot unread.
    expect(await send(JSON.stringify({ query: `{ ok }${' '.repeat(20 * 1024)}` }))).toBe(429);
    expect(await send(JSON.stringify({ query: '{ ok }' }), true)).toBe(429);
    expect(offered).toHaveLength(2);
    held.resolve(true);
    expect(await holding).toBe(200);
  });
});

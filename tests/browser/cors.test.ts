import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoDocuments } from '../../cli/demo-data.ts';
import { chromiumMissing, useClosedNetworkBrowser } from '../helpers/chromium.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

// A browser on a busy two-core machine renders slowly; generous on purpose.
const browserBoundMs = 60_000;

/** A blank page on its own loopback port: another origin than the gateway's. */
async function startPageServer(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>another origin</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

let allowedPage: { origin: string; server: Server };
let otherPage: { origin: string; server: Server };
let stack: TestStack;
let token: string;

beforeAll(async () => {
  allowedPage = await startPageServer();
  otherPage = await startPageServer();
  stack = await startTestStack({ env: { CORS_ORIGINS: allowedPage.origin } });
  await seedDemoDocuments(stack.store);
  await stack.settle();
  token = await stack.token('acme');
});

afterAll(async () => {
  await stack?.stop();
  for (const page of [allowedPage, otherPage]) await new Promise((resolve) => page?.server.close(resolve));
});

function preflight(origin: string) {
  return fetch(stack.gatewayUrl, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
}

describe('CORS preflight', () => {
  it('allows an allowlisted origin the methods and headers clients send, and exposes retry-after', async () => {
    const response = await preflight(allowedPage.origin);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(allowedPage.origin);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    const allowedHeaders = response.headers.get('access-control-allow-headers')?.split(', ');
    expect(allowedHeaders).toEqual(
      expect.arrayContaining([
        'authorization',
        'content-type',
        'apollo-require-preflight',
        'idempotency-key',
      ]),
    );
    expect(response.headers.get('access-control-expose-headers')).toContain('retry-after');
  });

  it('answers any other origin without CORS headers, so its browser refuses', async () => {
    const response = await preflight(otherPage.origin);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe.skipIf(chromiumMissing)(
  `CORS in headless Chromium${chromiumMissing ? ` (${chromiumMissing})` : ''}`,
  () => {
    const browser = useClosedNetworkBrowser();

    async function searchFrom(origin: string) {
      const page = await browser.context.newPage();
      page.setDefaultTimeout(browserBoundMs);
      try {
        await page.goto(origin);
        return await page.evaluate(
          async ({ url, token }) => {
            try {
              const response = await fetch(url, {
                method: 'POST',
                headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
                body: JSON.stringify({ query: '{ search(query: "search") { total } }' }),
              });
              return { status: response.status, body: await response.json() };
            } catch (error) {
              return { failed: String(error) };
            }
          },
          { url: stack.gatewayUrl, token },
        );
      } finally {
        await page.close();
      }
    }

    it(
      'lets a page on an allowed origin search',
      async () => {
        const result = await searchFrom(allowedPage.origin);
        expect(result).toMatchObject({
          status: 200,
          body: { data: { search: { total: expect.any(Number) } } },
        });
        expect(
          (result as { body: { data: { search: { total: number } } } }).body.data.search.total,
        ).toBeGreaterThan(0);
      },
      browserBoundMs * 2,
    );

    it(
      'keeps the answer from a page on any other origin',
      async () => {
        expect(await searchFrom(otherPage.origin)).toEqual({
          failed: expect.stringContaining('Failed to fetch'),
        });
      },
      browserBoundMs * 2,
    );
  },
);

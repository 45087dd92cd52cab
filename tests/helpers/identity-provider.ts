import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export interface TestIdentityProvider {
  url: string;
  /** The keys served; tests replace them to rotate. */
  keys: JWK[];
  /** JWKS requests served so far. */
  fetches: number;
  /** While true, every request gets 503. */
  down: boolean;
  /** Serves the public keys of a JWKS file (such as the test stack's development key). */
  serveFile(path: string): Promise<void>;
  close(): Promise<void>;
}

/** A JWKS endpoint on loopback that the tests control: rotate keys, count fetches, take it down. */
export async function startTestIdentityProvider(): Promise<TestIdentityProvider> {
  const server = createServer((_request, response) => {
    provider.fetches += 1;
    if (provider.down) {
      response.writeHead(503).end();
      return;
    }
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ keys: provider.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const provider: TestIdentityProvider = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    keys: [],
    fetches: 0,
    down: false,
    async serveFile(path) {
      provider.keys = (JSON.parse(await readFile(path, 'utf8')) as { keys: JWK[] }).keys;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return provider;
}

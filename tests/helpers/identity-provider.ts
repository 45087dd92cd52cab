import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** Signs tokens with one key whose public half the provider serves. */
export interface TestSigner {
  kid: string;
  /** Signs exactly these claims (the test writes `iss`, `aud`, `exp`); the header gets `alg`, `kid`, `typ`. */
  sign(claims: Record<string, unknown>): Promise<string>;
}

export interface TestIdentityProvider {
  /** The JWKS URL. */
  url: string;
  /** `http://127.0.0.1:<port><issuerPath>`, whose `/.well-known/openid-configuration` names `url`. */
  issuer: string;
  /** The keys served; tests replace them to rotate. */
  keys: JWK[];
  /** Requests served so far (JWKS and discovery). */
  fetches: number;
  /** While true, every request gets 503. */
  down: boolean;
  /** Serves the public keys of a JWKS file (such as the test stack's development key). */
  serveFile(path: string): Promise<void>;
  /** A new RS256 key (the providers' default algorithm), served from now on. */
  addSigningKey(kid?: string): Promise<TestSigner>;
  close(): Promise<void>;
}

/**
 * A JWKS endpoint, and OpenID Connect discovery, on loopback that the tests
 * control: rotate keys, count fetches, take it down.
 */
export async function startTestIdentityProvider(
  options: {
    /** The issuer's path, as providers shape it: `/realms/quarry` (Keycloak), `/oauth2/default` (Okta). */
    issuerPath?: string;
  } = {},
): Promise<TestIdentityProvider> {
  const server = createServer((request, response) => {
    provider.fetches += 1;
    if (provider.down) {
      response.writeHead(503).end();
      return;
    }
    const body = request.url?.endsWith('/.well-known/openid-configuration')
      ? { issuer: provider.issuer, jwks_uri: provider.url }
      : { keys: provider.keys };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider: TestIdentityProvider = {
    url: `${origin}/.well-known/jwks.json`,
    issuer: `${origin}${options.issuerPath ?? ''}`,
    keys: [],
    fetches: 0,
    down: false,
    async serveFile(path) {
      provider.keys = (JSON.parse(await readFile(path, 'utf8')) as { keys: JWK[] }).keys;
    },
    async addSigningKey(kid = randomUUID()) {
      const { privateKey, publicKey } = await generateKeyPair('RS256');
      provider.keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
      return {
        kid,
        sign: (claims) =>
          new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(privateKey),
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return provider;
}

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultClaimMapping } from './claim-mapping.ts';
import type { KeySource } from './issuer-config.ts';
import { createJwtVerifier, type JwtVerifier } from './jwt-verifier.ts';

const authUnavailable = { extensions: { code: 'AUTH_UNAVAILABLE', http: { status: 503 } } };

interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

type CryptoKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

async function newKey(): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** An identity provider on loopback: serves whatever keys the test sets, counts fetches, can be taken down. */
function startIdentityProvider() {
  const state = { keys: [] as JWK[], fetches: 0, down: false, issuer: 'idp-test' };
  const server: Server = createServer((request, response) => {
    state.fetches += 1;
    if (state.down) {
      response.writeHead(503).end();
      return;
    }
    const body = request.url?.endsWith('/.well-known/openid-configuration')
      ? { issuer: state.issuer, jwks_uri: new URL('/jwks.json', `http://${request.headers.host}`).href }
      : { keys: state.keys };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  return { state, server };
}

describe('remote JWKS cache', () => {
  const idp = startIdentityProvider();
  let url: URL;
  let k1: TestKey;
  let k2: TestKey;
  const cooldownMs = 1000;
  const maxAgeMs = 60_000;
  const staleIfErrorMs = 300_000;

  beforeAll(async () => {
    await new Promise<void>((resolve) => idp.server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(idp.server.address() as AddressInfo).port}/jwks.json`);
    [k1, k2] = await Promise.all([newKey(), newKey()]);
  });
  afterAll(() => new Promise<void>((resolve) => idp.server.close(() => resolve())));
  afterEach(() => {
    vi.useRealTimers();
    idp.state.down = false;
    idp.state.issuer = 'idp-test';
  });

  // Only Date is faked: the cache's clock moves on demand while sockets and timers stay real.
  let now = Date.now();
  const advance = (ms: number) => {
    now += ms;
    vi.setSystemTime(now);
  };
  async function freshVerifier(
    keys: KeySource | undefined = undefined,
    issuer = 'idp-test',
  ): Promise<JwtVerifier> {
    vi.useFakeTimers({ toFake: ['Date'] });
    now = Date.now();
    vi.setSystemTime(now);
    idp.state.fetches = 0;
    return createJwtVerifier({
      issuers: [
        { issuer, audience: ['quarry'], keys: keys ?? { jwksUrl: url.href }, claims: defaultClaimMapping },
      ],
      algorithms: ['ES256'],
      clockToleranceSeconds: 30,
      jwksCooldownSeconds: cooldownMs / 1000,
      jwksMaxAgeSeconds: maxAgeMs / 1000,
      jwksStaleIfErrorSeconds: staleIfErrorMs / 1000,
    });
  }
  const token = (key: TestKey, kid = key.kid, issuer = 'idp-test') =>
    new SignJWT({ tenant_id: 't1', scope: 'documents:read' })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(issuer)
      .setAudience('quarry')
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + 3600)
      .sign(key.privateKey);

  it('fetches once and serves later verifications from the cache', async () => {
    idp.state.keys = [k1.publicJwk];
    const verifier = await freshVerifier();
    for (let i = 0; i < 5; i += 1) await expect(verifier.verify(await token(k1))).resolves.toBeTruthy();
    expect(idp.state.fetches).toBe(1);
  });

  it('picks up a rotated-in kid, and a removed key stops working once the set is refreshed', async () => {
    idp.state.keys = [k1.publicJwk];
    const verifier = await freshVerifier();
    await verifier.verify(await token(k1));
    idp.state.keys = [k1.publicJwk, k2.publicJwk];
    advance(cooldownMs + 1);
    await expect(verifier.verify(await token(k2))).resolves.toMatchObject({ tenantId: 't1' });
    expect(idp.state.fetches).toBe(2);

    idp.state.keys = [k2.publicJwk];
    advance(maxAgeMs + 1);
    await expect(verifier.verify(await token(k1))).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
    await expect(verifier.verify(await token(k2))).resolves.toBeTruthy();
  });

  it('a flood of unknown kids costs at most one fetch per cooldown', async () => {
    idp.state.keys = [k1.publicJwk];
    const verifier = await freshVerifier();
    await verifier.verify(await token(k1));
    advance(cooldownMs + 1);
    const flood = await Promise.all(
      Array.from({ length: 50 }, async () => verifier.verify(await token(k1, randomUUID())).catch((e) => e)),
    );
    expect(flood.every((error) => error?.extensions?.code === 'UNAUTHENTICATED')).toBe(true);
    expect(idp.state.fetches).toBe(2);
    for (let i = 0; i < 20; i += 1) await verifier.verify(await token(k1, randomUUID())).catch(() => {});
    expect(idp.state.fetches).toBe(2);
    advance(cooldownMs + 1);
    await verifier.verify(await token(k1, randomUUID())).catch(() => {});
    expect(idp.state.fetches).toBe(3);
  });

  it('keeps serving cached keys while the identity provider is down, for a bounded time', async () => {
    idp.state.keys = [k1.publicJwk];
    const verifier = await freshVerifier();
    await verifier.verify(await token(k1));
    idp.state.down = true;

    advance(maxAgeMs + 1);
    await expect(verifier.verify(await token(k1))).resolves.toBeTruthy();
    expect(idp.state.fetches).toBe(2);

    advance(staleIfErrorMs);
    await expect(verifier.verify(await token(k1))).rejects.toMatchObject(authUnavailable);
    expect(await verifier.keyStatus?.()).toEqual([{ issuer: 'idp-test', keys: 'none' }]);

    idp.state.down = false;
    advance(cooldownMs + 1);
    await expect(verifier.verify(await token(k1))).resolves.toBeTruthy();
  });

  it('answers AUTH_UNAVAILABLE, not a bad token, when no keys were ever fetched', async () => {
    idp.state.down = true;
    const verifier = await freshVerifier();
    await expect(verifier.verify(await token(k1))).rejects.toMatchObject(authUnavailable);
    expect(await verifier.keyStatus?.()).toEqual([{ issuer: 'idp-test', keys: 'none' }]);
  });

  it('while the provider is down, a cached key still verifies and an unknown kid is AUTH_UNAVAILABLE', async () => {
    idp.state.keys = [k1.publicJwk];
    const verifier = await freshVerifier();
    await verifier.verify(await token(k1));
    idp.state.down = true;
    advance(cooldownMs + 1);
    // k2 may be a key rotated in during the outage: nobody can tell, so it is not called a bad token.
    await expect(verifier.verify(await token(k2))).rejects.toMatchObject(authUnavailable);
    await expect(verifier.verify(await token(k1))).resolves.toBeTruthy();
    expect(await verifier.keyStatus?.()).toEqual([{ issuer: 'idp-test', keys: 'fresh' }]);
  });

  it('the readiness check fetches the keys, so a service is warm before its first request', async () => {
    idp.state.keys = [k1.publicJwk];
    const verifier = await freshVerifier();
    expect(await verifier.keyStatus?.()).toEqual([{ issuer: 'idp-test', keys: 'fresh' }]);
    await verifier.verify(await token(k1));
    expect(idp.state.fetches).toBe(1);
  });

  it("finds the JWKS through the issuer's OpenID configuration", async () => {
    idp.state.keys = [k1.publicJwk];
    const issuer = `${url.origin}/realms/quarry`;
    idp.state.issuer = issuer;
    const verifier = await freshVerifier({ discovery: true }, issuer);
    await expect(verifier.verify(await token(k1, k1.kid, issuer))).resolves.toMatchObject({ tenantId: 't1' });
    expect(idp.state.fetches).toBe(2);
  });

  it('refuses an OpenID configuration that names another issuer', async () => {
    idp.state.keys = [k1.publicJwk];
    const issuer = `${url.origin}/realms/quarry`;
    idp.state.issuer = 'https://elsewhere.example';
    const verifier = await freshVerifier({ discovery: true }, issuer);
    await expect(verifier.verify(await token(k1, k1.kid, issuer))).rejects.toMatchObject(authUnavailable);
  });
});

import { createHmac, randomUUID } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../server/auth/dev-keys.ts';
import { expectStillHealthy } from '../helpers/health.ts';
import { startTestIdentityProvider, type TestIdentityProvider } from '../helpers/identity-provider.ts';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

type CryptoKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** The development issuer alone, or as the second of two trusted issuers (whose keys share a kid). */
const configurations: [string, (idp: string, otherIssuer: string) => Record<string, string>][] = [
  ['one issuer', (idp) => ({ JWT_JWKS_URL: idp })],
  [
    'the second of two issuers',
    (idp, otherIssuer) => ({
      JWT_ISSUER: 'https://sso.example/realms/other',
      JWT_AUDIENCE: 'other-api',
      JWT_JWKS_URL: otherIssuer,
      JWT_ISSUERS: JSON.stringify([{ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, jwksUrl: idp }]),
    }),
  ],
];

/** Hostile tokens, each refused with 401 UNAUTHENTICATED; the keys come from a loopback JWKS URL. */
describe.each(configurations)('attack suite: JWT, with %s', (_name, environment) => {
  let idp: TestIdentityProvider;
  let attackerHost: TestIdentityProvider;
  let otherIssuer: TestIdentityProvider;
  let otherIssuerKey: CryptoKey;
  let stack: TestStack;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey; kid: string };
  let rs384PrivateKey: CryptoKey;

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (overrides: Record<string, unknown> = {}) => ({
    tenant_id: 'tenant-a',
    scope: 'documents:read documents:write',
    iss: DEV_ISSUER,
    aud: DEV_AUDIENCE,
    exp: now() + 600,
    ...overrides,
  });
  const signDev = (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', kid: stack.devKey.kid, ...header })
      .sign(stack.devKey.privateKey);
  const hmacToken = (header: Record<string, unknown>, payload: unknown, secret: string | Buffer) => {
    const input = `${b64(header)}.${b64(payload)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };

  beforeAll(async () => {
    idp = await startTestIdentityProvider();
    attackerHost = await startTestIdentityProvider();
    otherIssuer = await startTestIdentityProvider();
    stack = await startTestStack({
      env: { ...environment(idp.url, otherIssuer.url), JWT_JWKS_COOLDOWN_SECONDS: '30' },
    });
    await idp.serveFile(stack.devKey.jwksPath);
    // Another issuer publishes a key under the development key's kid.
    const other = await generateKeyPair('ES256', { extractable: true });
    otherIssuerKey = other.privateKey;
    otherIssuer.keys = [{ ...(await exportJWK(other.publicKey)), kid: stack.devKey.kid, alg: 'ES256' }];
    const pair = await generateKeyPair('RS256', { extractable: true });
    rsa = { ...pair, kid: randomUUID() };
    idp.keys.push({ ...(await exportJWK(pair.publicKey)), kid: rsa.kid, alg: 'RS256', use: 'sig' });
    // Trusted by the JWKS, but RS384 is not in JWT_ALGORITHMS: the allowlist alone must refuse it.
    const rs384 = await generateKeyPair('RS384', { extractable: true });
    rs384PrivateKey = rs384.privateKey;
    idp.keys.push({ ...(await exportJWK(rs384.publicKey)), kid: 'rs384', alg: 'RS384', use: 'sig' });
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all([idp, attackerHost, otherIssuer].map((provider) => provider?.close()));
  });

  async function expectRefused(token: string) {
    const result = await postGraphQL(stack.gatewayUrl, { query: '{ documents(ids: ["x"]) { id } }' }, token);
    expect(result.status).toBe(401);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  }

  it('accepts the legitimate ES256 and RS256 keys (the baseline the attacks deviate from)', async () => {
    for (const token of [
      await signDev(claims()),
      await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: rsa.kid }).sign(rsa.privateKey),
    ]) {
      const result = await postGraphQL(
        stack.gatewayUrl,
        { query: '{ documents(ids: ["x"]) { id } }' },
        token,
      );
      expect(result.errors).toBeUndefined();
    }
  });

  const cases: [string, () => Promise<string>][] = [
    ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`],
    ['alg None', async () => `${b64({ alg: 'None', typ: 'JWT' })}.${b64(claims())}.`],
    [
      'HS256 signed with the RSA public key (PEM)',
      async () => hmacToken({ alg: 'HS256', kid: rsa.kid }, claims(), await exportSPKI(rsa.publicKey)),
    ],
    [
      'HS256 signed with the RSA public key (JWK modulus)',
      async () => {
        const jwk = await exportJWK(rsa.publicKey);
        return hmacToken({ alg: 'HS256', kid: rsa.kid }, claims(), Buffer.from(jwk.n!, 'base64url'));
      },
    ],
    ['a stripped signature', async () => `${(await signDev(claims())).split('.').slice(0, 2).join('.')}.`],
    ['a truncated signature', async () => (await signDev(claims())).slice(0, -10)],
    [
      'a bit-flipped signature',
      async () => {
        const [header, payload, signature] = (await signDev(claims())).split('.');
        const bytes = Buffer.from(signature!, 'base64url');
        bytes[5] = bytes[5]! ^ 0x01;
        return `${header}.${payload}.${bytes.toString('base64url')}`;
      },
    ],
    [
      'a payload swapped under a valid signature (tenant changed)',
      async () => {
        const [header, , signature] = (await signDev(claims())).split('.');
        return `${header}.${b64(claims({ tenant_id: 'tenant-b' }))}.${signature}`;
      },
    ],
    [
      'an embedded foreign jwk header',
      async () => {
        const attacker = await generateKeyPair('ES256', { extractable: true });
        return new SignJWT(claims())
          .setProtectedHeader({ alg: 'ES256', jwk: await exportJWK(attacker.publicKey) })
          .sign(attacker.privateKey);
      },
    ],
    [
      'a jku header pointing at the attacker',
      async () => {
        const attacker = await generateKeyPair('ES256', { extractable: true });
        attackerHost.keys = [{ ...(await exportJWK(attacker.publicKey)), kid: 'evil' }];
        return new SignJWT(claims())
          .setProtectedHeader({ alg: 'ES256', kid: 'evil', jku: attackerHost.url })
          .sign(attacker.privateKey);
      },
    ],
    [
      'an x5u header pointing at the attacker',
      async () => {
        const attacker = await generateKeyPair('ES256');
        return new SignJWT(claims())
          .setProtectedHeader({ alg: 'ES256', kid: 'evil', x5u: attackerHost.url })
          .sign(attacker.privateKey);
      },
    ],
    ['a path-traversal kid', async () => signDev(claims(), { kid: '../../../../etc/passwd' })],
    ['an SQL-injection kid', async () => signDev(claims(), { kid: "x' OR '1'='1" })],
    ['a 10 KB kid', async () => signDev(claims(), { kid: 'k'.repeat(10_000) })],
    ['a kid that is not a string', async () => signDev(claims(), { kid: { $ne: null } })],
    [
      'an algorithm outside the allowlist (RS384, with its key in the JWKS)',
      async () =>
        new SignJWT(claims()).setProtectedHeader({ alg: 'RS384', kid: 'rs384' }).sign(rs384PrivateKey),
    ],
    ['expired', async () => signDev(claims({ exp: now() - 3600 }))],
    ['not valid before an hour from now', async () => signDev(claims({ nbf: now() + 3600 }))],
    ['without exp', async () => signDev(claims({ exp: undefined }))],
    ['without iss', async () => signDev(claims({ iss: undefined }))],
    ['without aud', async () => signDev(claims({ aud: undefined }))],
    ['without tenant_id', async () => signDev(claims({ tenant_id: undefined }))],
    [
      "signed with another issuer's key under the same kid",
      async () =>
        new SignJWT(claims())
          .setProtectedHeader({ alg: 'ES256', kid: stack.devKey.kid })
          .sign(otherIssuerKey),
    ],
    ['from another issuer', async () => signDev(claims({ iss: 'https://evil.example' }))],
    ['for another audience', async () => signDev(claims({ aud: 'another-api' }))],
  ];

  it.each(cases)('refuses a token with %s', async (_name, makeToken) => {
    await expectRefused(await makeToken());
  });

  it('never fetches keys from a URL named in the token', () => {
    expect(attackerHost.fetches).toBe(0);
  });

  it("a token for tenant A does not reach tenant B's documents", async () => {
    const tokenB = await signDev(claims({ tenant_id: 'tenant-b' }));
    const created = await stack.graphql<{ createDocument: { id: string } }>(
      'mutation { createDocument(input: { title: "B only", body: "secret" }) { id } }',
      { token: tokenB },
    );
    const id = created.data!.createDocument.id;
    const asA = await stack.graphql(
      'query ($id: ID!) { document(id: $id) { id } documents(ids: [$id]) { id } }',
      {
        variables: { id },
        token: await signDev(claims()),
      },
    );
    expect(asA.data).toEqual({ document: null, documents: [null] });
  });

  it('a flood of random kids costs at most one JWKS fetch per cooldown', async () => {
    await expectStillHealthy(stack);
    const before = idp.fetches;
    await Promise.all(
      Array.from({ length: 40 }, async () => expectRefused(await signDev(claims(), { kid: randomUUID() }))),
    );
    expect(idp.fetches - before).toBeLessThanOrEqual(1);
  });

  it('is still healthy afterwards', async () => {
    await expectStillHealthy(stack);
  });
});

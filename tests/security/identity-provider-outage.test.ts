import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIdentityProvider, type TestIdentityProvider } from '../helpers/identity-provider.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

interface Readiness {
  status: number;
  identityProvider: { ok: boolean; required: boolean; detail: unknown } | undefined;
}

/** An unreachable identity provider is an outage (503 AUTH_UNAVAILABLE), not a bad token (401). */
describe('identity provider outage', () => {
  let idp: TestIdentityProvider;
  let stack: TestStack;
  let tokens = 0;

  beforeAll(async () => {
    idp = await startTestIdentityProvider();
    idp.down = true;
    // No cooldown: each request may try the provider again, so recovery needs no waiting.
    stack = await startTestStack({ env: { JWT_JWKS_URL: idp.url, JWT_JWKS_COOLDOWN_SECONDS: '0' } });
    await idp.serveFile(stack.devKey.jwksPath);
  });
  afterAll(async () => {
    await stack?.stop();
    await idp?.close();
  });

  // A token never seen before each time, so the verified-principal cache cannot answer for the keys.
  const freshToken = () => {
    tokens += 1;
    return stack.token('tenant-a', { subject: `user-${tokens}` });
  };
  const query = (url: string, token: string) =>
    stack.graphql(
      url === stack.searchUrl ? '{ search(query: "x") { total } }' : '{ documents(ids: ["x"]) { id } }',
      {
        token,
        url,
      },
    );
  async function readiness(url: string): Promise<Readiness> {
    const response = await fetch(new URL('/health/ready', url));
    const body = (await response.json()) as { dependencies: Record<string, Readiness['identityProvider']> };
    return { status: response.status, identityProvider: body.dependencies.identityProvider };
  }

  it('with no keys ever fetched, answers 503 AUTH_UNAVAILABLE at the gateway and each subgraph, and is unready', async () => {
    for (const url of [stack.gatewayUrl, stack.documentsUrl, stack.searchUrl]) {
      const result = await query(url, await freshToken());
      expect(result.status, url).toBe(503);
      expect(result.errors?.[0]?.extensions, url).toEqual({ code: 'AUTH_UNAVAILABLE' });
      expect(await readiness(url), url).toEqual({
        status: 503,
        identityProvider: { ok: false, required: true, detail: { issuers: { 'quarry-dev': 'none' } } },
      });
    }
  });

  it('recovers as soon as the provider answers, and keeps serving its cached keys when it goes down again', async () => {
    idp.down = false;
    expect((await query(stack.gatewayUrl, await freshToken())).errors).toBeUndefined();
    idp.down = true;
    for (const url of [stack.gatewayUrl, stack.documentsUrl, stack.searchUrl]) {
      const result = await query(url, await freshToken());
      expect(result.errors, url).toBeUndefined();
      const ready = await readiness(url);
      expect(ready.status, url).toBe(200);
      expect(ready.identityProvider, url).toMatchObject({
        ok: true,
        detail: { issuers: { 'quarry-dev': 'fresh' } },
      });
    }
  });
});

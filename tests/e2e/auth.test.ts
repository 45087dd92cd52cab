import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../server/auth/dev-keys.ts';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

describe('authentication and scopes', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  function sign(claims: Record<string, unknown>, key = stack.devKey.privateKey, kid = stack.devKey.kid) {
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
  }
  const now = () => Math.floor(Date.now() / 1000);
  const validClaims = () => ({
    tenant_id: 't1',
    scope: 'documents:read documents:write',
    iss: DEV_ISSUER,
    aud: DEV_AUDIENCE,
    exp: now() + 600,
  });

  async function expectUnauthenticated(
    token: string | null,
    url = stack.gatewayUrl,
    query = '{ document(id: "x") { id } }',
  ) {
    const result = await postGraphQL(url, { query }, token);
    expect(result.status).toBe(401);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
    return result;
  }

  it('accepts a valid token', async () => {
    const result = await stack.graphql('{ document(id: "x") { id } }', { token: await sign(validClaims()) });
    expect(result.status).toBe(200);
    expect(result.data).toEqual({ document: null });
  });

  it('refuses a request without a token', async () => {
    const result = await expectUnauthenticated(null);
    expect(result.errors?.[0]?.message).toBe('A bearer token is required');
  });

  it('refuses a non-bearer authorization header', async () => {
    const response = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(401);
  });

  it.each([
    ['garbage', async () => 'not.a.jwt'],
    ['expired', async () => sign({ ...validClaims(), exp: now() - 3600 })],
    ['without exp', async () => sign({ ...validClaims(), exp: undefined })],
    ['not yet valid', async () => sign({ ...validClaims(), nbf: now() + 3600 })],
    ['from another issuer', async () => sign({ ...validClaims(), iss: 'https://evil.example' })],
    ['for another audience', async () => sign({ ...validClaims(), aud: 'someone-else' })],
    ['without tenant_id', async () => sign({ ...validClaims(), tenant_id: undefined })],
    ['with a hostile tenant_id', async () => sign({ ...validClaims(), tenant_id: '../../etc' })],
    [
      'signed by an unknown key',
      async () => {
        const { privateKey } = await generateKeyPair('ES256');
        return sign(validClaims(), privateKey, stack.devKey.kid);
      },
    ],
  ])('refuses a token %s with 401 UNAUTHENTICATED', async (_name, makeToken) => {
    await expectUnauthenticated(await makeToken());
  });

  it('refuses a mutation without documents:write with FORBIDDEN', async () => {
    const token = await sign({ ...validClaims(), scope: 'documents:read' });
    const result = await stack.graphql(
      'mutation { createDocument(input: { title: "x", body: "y" }) { id } }',
      { token },
    );
    expect(result.status).toBe(403);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN' });
  });

  it('refuses a query without documents:read with FORBIDDEN', async () => {
    const token = await sign({ ...validClaims(), scope: 'documents:write' });
    const result = await stack.graphql('{ document(id: "x") { id } }', { token });
    expect(result.status).toBe(403);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN' });
  });

  it('subgraphs called directly answer nothing without a valid token, not even _service or _entities', async () => {
    for (const url of [stack.documentsUrl, stack.searchUrl]) {
      await expectUnauthenticated(null, url, '{ _service { sdl } }');
      await expectUnauthenticated('forged.token.value', url, '{ _service { sdl } }');
      await expectUnauthenticated(
        null,
        url,
        '{ _entities(representations: [{ __typename: "Document", id: "x" }]) { __typename } }',
      );
    }
  });

  it('subgraphs check scopes themselves', async () => {
    const token = await sign({ ...validClaims(), scope: 'documents:read' });
    const result = await stack.graphql(
      'mutation { createDocument(input: { title: "x", body: "y" }) { id } }',
      {
        token,
        url: stack.documentsUrl,
      },
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

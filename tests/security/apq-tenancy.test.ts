import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

describe('automatic persisted queries are kept per tenant', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it("never answers a hash from another tenant's registration", async () => {
    const [tokenA, tokenB] = await Promise.all([stack.token('tenant-apq-a'), stack.token('tenant-apq-b')]);
    const query = '{ suggest(prefix: "private roadmap") }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };

    const registered = await postGraphQL(stack.gatewayUrl, { query, extensions }, tokenA);
    expect(registered.errors).toBeUndefined();
    const ownHash = await postGraphQL(stack.gatewayUrl, { extensions }, tokenA);
    expect(ownHash.errors).toBeUndefined();
    expect(ownHash.data).toEqual(registered.data);

    // Tenant B learns nothing: the same answer as for a hash no one registered.
    const otherHash = await postGraphQL(stack.gatewayUrl, { extensions }, tokenB);
    expect(otherHash.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const neverSeen = await postGraphQL(
      stack.gatewayUrl,
      { extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } },
      tokenB,
    );
    expect(otherHash).toEqual(neverSeen);
  });

  it('still refuses a registration whose hash does not match its text', async () => {
    const token = await stack.token('tenant-apq-a');
    const extensions = { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } };
    const mismatched = await postGraphQL(
      stack.gatewayUrl,
      { query: '{ suggest(prefix: "x") }', extensions },
      token,
    );
    expect(mismatched.status).toBe(400);
    const byHash = await postGraphQL(stack.gatewayUrl, { extensions }, token);
    expect(byHash.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });
});

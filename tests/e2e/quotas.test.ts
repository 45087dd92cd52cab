import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

const create = 'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }';
const usageQuery = '{ usage { documents bytes maxDocuments maxBytes } }';
const writer = ['documents:read', 'documents:write'];
const admin = [...writer, 'tenant:admin'];

describe('tenant quotas through the gateway', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({
      env: { QUOTA_MAX_DOCUMENTS: '2', QUOTA_MAX_BYTES: '1mb', QUOTA_TIERS: 'premium=3/1mb' },
    });
  });
  afterAll(() => stack.stop());

  it('refuses a create past the tier quota with QUOTA_EXCEEDED, naming the limit, and writes nothing', async () => {
    const token = await stack.token('quota-standard', { scopes: admin });
    for (const title of ['One', 'Two']) {
      const created = await stack.graphql(create, { variables: { input: { title, body: 'b' } }, token });
      expect(created.errors).toBeUndefined();
    }
    const refused = await stack.graphql(create, {
      variables: { input: { title: 'Three', body: 'b' } },
      token,
    });
    expect(refused.errors?.[0]).toMatchObject({
      message: expect.stringContaining('2 documents'),
      extensions: { code: 'QUOTA_EXCEEDED' },
    });
    const usage = await stack.graphql<{ usage: Record<string, number> }>(usageQuery, { token });
    expect(usage.data?.usage).toMatchObject({ documents: 2, maxDocuments: 2, maxBytes: 1024 * 1024 });
  });

  it("holds a premium token to its tier's quota", async () => {
    const token = await stack.token('quota-premium', { scopes: admin, tier: 'premium' });
    for (const title of ['One', 'Two', 'Three']) {
      const created = await stack.graphql(create, { variables: { input: { title, body: 'b' } }, token });
      expect(created.errors).toBeUndefined();
    }
    const refused = await stack.graphql(create, {
      variables: { input: { title: 'Four', body: 'b' } },
      token,
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe('QUOTA_EXCEEDED');
  });

  it('shows usage only with tenant:admin, even after an admin read it through the response cache', async () => {
    const adminToken = await stack.token('quota-scoped', { scopes: admin });
    const readerToken = await stack.token('quota-scoped', { scopes: writer });
    for (let read = 0; read < 2; read++) {
      const allowed = await stack.graphql<{ usage: unknown }>(usageQuery, { token: adminToken });
      expect(allowed.data?.usage).toMatchObject({ documents: 0 });
    }
    const refused = await stack.graphql(usageQuery, { token: readerToken });
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

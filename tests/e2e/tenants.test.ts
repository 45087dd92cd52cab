import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

const create = 'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }';
const usageQuery = '{ usage { documents bytes maxDocuments maxBytes } }';
const writer = ['documents:read', 'documents:write'];
const admin = [...writer, 'tenant:admin'];

describe('tenant quotas and erasure through the gateway', () => {
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

  it("erases the caller's own tenant with tenant:erase, and nobody else's", async () => {
    const erase = 'mutation ($tenantId: ID!) { eraseTenantData(tenantId: $tenantId) }';
    const writerToken = await stack.token('erase-me', { scopes: admin });
    const eraserToken = await stack.token('erase-me', { scopes: [...admin, 'tenant:erase', 'search:admin'] });
    await stack.graphql(create, {
      variables: { input: { title: 'Doomed note', body: 'b' } },
      token: writerToken,
    });
    await stack.graphql(create, {
      variables: { input: { title: 'Kept note', body: 'b' } },
      token: await stack.token('bystander', { scopes: admin }),
    });
    const setSynonyms =
      'mutation { setSynonyms(input: { equivalents: [{ words: ["note", "memo"] }], rules: [] }) { rules { word } } }';
    expect((await stack.graphql(setSynonyms, { token: eraserToken })).errors).toBeUndefined();
    await stack.settle();

    const unscoped = await stack.graphql(erase, { variables: { tenantId: 'erase-me' }, token: writerToken });
    expect(unscoped.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const another = await stack.graphql(erase, { variables: { tenantId: 'bystander' }, token: eraserToken });
    expect(another.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tenantId' });

    const erased = await stack.graphql(erase, { variables: { tenantId: 'erase-me' }, token: eraserToken });
    expect(erased).toMatchObject({ data: { eraseTenantData: true } });
    // The erasure runs in the background: it is done when the stack's documents service has settled it.
    await stack.erasures.settled();
    const after = await stack.graphql<{ search: { total: number }; usage: { documents: number } }>(
      '{ search(query: "note") { total } usage { documents } synonyms { equivalents { words } } }',
      { token: eraserToken },
    );
    expect(after.data).toEqual({
      search: { total: 0 },
      usage: { documents: 0 },
      synonyms: { equivalents: [] },
    });
    const bystander = await stack.graphql<{ search: { total: number } }>(
      '{ search(query: "note") { total } }',
      {
        token: await stack.token('bystander', { scopes: admin }),
      },
    );
    expect(bystander.data?.search.total).toBe(1);
  });
});

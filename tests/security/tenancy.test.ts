import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestPath } from '../../schema/operations.ts';
import { expectStillHealthy } from '../helpers/health.ts';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Tenant B, holding a valid token, goes after tenant A's data by every side door. */
describe('attack suite: tenancy', () => {
  let stack: TestStack;
  let tokenA: string;
  let tokenB: string;
  let secretId: string;

  beforeAll(async () => {
    stack = await startTestStack();
    tokenA = await stack.token('tenant-a');
    tokenB = await stack.token('tenant-b');
    for (let n = 0; n < 3; n += 1) {
      const created = await stack.graphql<{ createDocument: { id: string } }>(
        `mutation { createDocument(input: { title: "Quarterly secret ${n}", body: "tenant a only" }) { id } }`,
        { token: tokenA },
      );
      secretId = created.data!.createDocument.id;
    }
    await stack.settle();
  });
  afterAll(() => stack.stop());

  const entities =
    'query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on Document { id title body } } }';

  it("_entities sent straight to the documents subgraph with another tenant's ids returns nulls", async () => {
    const representations = [
      { __typename: 'Document', id: secretId },
      { __typename: 'Document', id: secretId, tenantId: 'tenant-a' },
      { __typename: 'Document', id: secretId, tenant_id: 'tenant-a' },
    ];
    const result = await stack.graphql(entities, {
      variables: { representations },
      token: tokenB,
      url: stack.documentsUrl,
    });
    expect(result.data).toEqual({ _entities: [null, null, null] });
  });

  it('_entities is not reachable through the gateway at all', async () => {
    const result = await stack.graphql(entities, {
      variables: { representations: [{ __typename: 'Document', id: secretId }] },
      token: tokenB,
    });
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('a cursor issued to tenant A is refused for tenant B, at the gateway and at the search subgraph', async () => {
    const query =
      'query ($after: String) { search(query: "quarterly", first: 1, after: $after) { hits { document { id } } pageInfo { endCursor } } }';
    const pageA = await stack.graphql<{ search: { pageInfo: { endCursor: string } } }>(query, {
      token: tokenA,
    });
    const cursor = pageA.data!.search.pageInfo.endCursor;
    expect(cursor).toBeTruthy();
    for (const url of [stack.gatewayUrl, stack.searchUrl]) {
      const replay = await stack.graphql(
        'query ($after: String) { search(query: "quarterly", first: 1, after: $after) { total } }',
        { variables: { after: cursor }, token: tokenB, url },
      );
      expect(replay.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });

  it("a partner of tenant B running a persisted operation gets nothing of tenant A's", async () => {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
      operations: { id: string; name: string }[];
    };
    const byName = (name: string) => manifest.operations.find((operation) => operation.name === name)!.id;
    const partnerB = await stack.token('tenant-b', { partner: true });
    const run = (name: string, variables: Record<string, unknown>) =>
      postGraphQL(
        stack.gatewayUrl,
        { variables, extensions: { persistedQuery: { version: 1, sha256Hash: byName(name) } } },
        partnerB,
      );
    expect((await run('DocumentById', { id: secretId })).data).toEqual({ document: null });
    expect((await run('DocumentsByIds', { ids: [secretId] })).data).toEqual({ documents: [null] });
    const search = await run('SearchPage', { query: 'quarterly' });
    expect((search.data as { search: { total: number } }).search.total).toBe(0);
  });

  it('is still healthy afterwards', async () => {
    await expectStillHealthy(stack);
  });
});

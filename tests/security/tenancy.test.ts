import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestPath } from '../../schema/operations.ts';
import { expectStillHealthy } from '../helpers/health.ts';
import { startTestIdentityProvider, type TestIdentityProvider } from '../helpers/identity-provider.ts';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** `searchAdmin` adds the `search:admin` scope, which the synonyms need. */
type TokenFor = (tenant: string, options?: { partner?: boolean; searchAdmin?: boolean }) => Promise<string>;

interface Setup {
  stack: TestStack;
  tokenFor: TokenFor;
  close(): Promise<void>;
}

/** Quarry's own claims: `tenant_id`, `scope`, `client_type`. */
async function ownClaims(): Promise<Setup> {
  const stack = await startTestStack();
  return {
    stack,
    tokenFor: (tenant, { partner, searchAdmin } = {}) =>
      stack.token(tenant, {
        partner,
        ...(searchAdmin ? { scopes: ['documents:read', 'documents:write', 'search:admin'] } : {}),
      }),
    close: () => stack.stop(),
  };
}

/**
 * The same attacks with Keycloak-shaped tokens: the tenant from the
 * organization claim, access and partnership from realm roles.
 */
async function mappedClaims(): Promise<Setup> {
  const realm: TestIdentityProvider = await startTestIdentityProvider({ issuerPath: '/realms/quarry' });
  const signer = await realm.addSigningKey();
  const stack = await startTestStack({
    env: {
      JWT_ISSUERS: JSON.stringify([
        {
          issuer: realm.issuer,
          audience: 'quarry-api',
          discovery: true,
          tenantClaim: 'organization',
          scopeClaims: ['realm_access.roles'],
          roleScopes: { 'quarry-editor': ['documents:read', 'documents:write'] },
          partnerClaim: { claim: 'realm_access.roles', value: 'quarry-partner' },
        },
      ]),
    },
  });
  const now = Math.floor(Date.now() / 1000);
  return {
    stack,
    tokenFor: (tenant, options) =>
      signer.sign({
        iss: realm.issuer,
        aud: ['quarry-api', 'account'],
        sub: randomUUID(),
        typ: 'Bearer',
        azp: 'quarry-web',
        iat: now,
        exp: now + 3600,
        realm_access: {
          roles: [
            'quarry-editor',
            ...(options?.partner ? ['quarry-partner'] : []),
            // A role the mapping does not name is taken as the scope of that name.
            ...(options?.searchAdmin ? ['search:admin'] : []),
          ],
        },
        scope: 'openid profile organization',
        organization: [tenant],
      }),
    async close() {
      await stack.stop();
      await realm.close();
    },
  };
}

/** Tenant B, holding a valid token, goes after tenant A's data through every read path and side door. */
describe.each([
  ["Quarry's own claims", ownClaims],
  ['claims mapped from Keycloak-shaped tokens', mappedClaims],
])('attack suite: tenancy, with %s', (_name, setUp) => {
  let setup: Setup;
  let stack: TestStack;
  let tokenA: string;
  let tokenB: string;
  let secretId: string;

  beforeAll(async () => {
    setup = await setUp();
    stack = setup.stack;
    tokenA = await setup.tokenFor('tenant-a');
    tokenB = await setup.tokenFor('tenant-b');
    const created = await stack.graphql<{ createDocument: { id: string } }>(
      'mutation { createDocument(input: { title: "Merger plans", body: "confidential acquisition", tags: ["secret"], author: "ceo-a" }) { id } }',
      { token: tokenA },
    );
    secretId = created.data!.createDocument.id;
    await stack.graphql(
      'mutation { createDocument(input: { title: "Merger rumours", body: "public gossip", tags: ["news"] }) { id } }',
      { token: tokenB },
    );
    for (let n = 0; n < 3; n += 1) {
      await stack.graphql(
        `mutation { createDocument(input: { title: "Quarterly secret ${n}", body: "tenant a only" }) { id } }`,
        { token: tokenA },
      );
    }
    await stack.settle();
  });
  afterAll(() => setup?.close());

  it("search, facets and totals show only the caller's documents", async () => {
    const result = await stack.graphql<{
      search: {
        total: number;
        hits: { document: { id: string; title: string } }[];
        facets: { buckets: { value: string }[] }[];
      };
    }>(
      '{ search(query: "merger", facets: [TAGS, AUTHOR]) { total hits { document { id title } } facets { buckets { value } } } }',
      { token: tokenB },
    );
    const { total, hits, facets } = result.data!.search;
    expect(total).toBe(1);
    expect(hits.map((hit) => hit.document.title)).toEqual(['Merger rumours']);
    const values = facets.flatMap((facet) => facet.buckets.map((bucket) => bucket.value));
    expect(values).not.toContain('secret');
    expect(values).not.toContain('ceo-a');
  });

  it("suggest does not complete another tenant's titles", async () => {
    const result = await stack.graphql<{ suggest: string[] }>('{ suggest(prefix: "merg", first: 10) }', {
      token: tokenB,
    });
    expect(result.data?.suggest).toEqual(['Merger rumours']);
  });

  it("document and documents return null for another tenant's id", async () => {
    const result = await stack.graphql(
      'query ($id: ID!) { document(id: $id) { id } documents(ids: [$id]) { id } }',
      { variables: { id: secretId }, token: tokenB },
    );
    expect(result.data).toEqual({ document: null, documents: [null] });
  });

  it("writes cannot reach another tenant's document", async () => {
    const update = await stack.graphql(
      'mutation ($id: ID!) { updateDocument(id: $id, input: { title: "pwned" }) { id } }',
      { variables: { id: secretId }, token: tokenB },
    );
    expect(update.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const remove = await stack.graphql('mutation ($id: ID!) { deleteDocument(id: $id) }', {
      variables: { id: secretId },
      token: tokenB,
    });
    expect(remove.data).toEqual({ deleteDocument: false });
    const stillThere = await stack.graphql<{ document: { title: string } }>(
      'query ($id: ID!) { document(id: $id) { title } }',
      { variables: { id: secretId }, token: tokenA },
    );
    expect(stillThere.data?.document.title).toBe('Merger plans');
  });

  it("tenant A's synonyms never change tenant B's results", async () => {
    const create =
      'mutation ($title: String!) { createDocument(input: { title: $title, body: "b" }) { id } }';
    for (const token of [tokenA, tokenB])
      for (const title of ['Kubernetes operators', 'K8s upgrades'])
        await stack.graphql(create, { variables: { title }, token });
    await stack.settle();
    const titles = async (token: string) => {
      const result = await stack.graphql<{ search: { hits: { document: { title: string } }[] } }>(
        '{ search(query: "k8s") { hits { document { title } } } }',
        { token },
      );
      return result.data?.search.hits.map((hit) => hit.document.title);
    };
    expect(await titles(tokenB)).toEqual(['K8s upgrades']);

    const set = await stack.graphql(
      'mutation { setSynonyms(input: { equivalents: [{ words: ["k8s", "kubernetes"] }], rules: [] }) { rules { word } } }',
      { token: await setup.tokenFor('tenant-a', { searchAdmin: true }) },
    );
    expect(set.errors).toBeUndefined();
    expect(await titles(tokenA)).toEqual(['K8s upgrades', 'Kubernetes operators']);
    expect(await titles(tokenB)).toEqual(['K8s upgrades']);
    const ofB = await stack.graphql('{ synonyms { equivalents { words } } }', {
      token: await setup.tokenFor('tenant-b', { searchAdmin: true }),
    });
    expect(ofB.data).toEqual({ synonyms: { equivalents: [] } });
  });

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
    const asA = await stack.graphql(entities, {
      variables: { representations: [{ __typename: 'Document', id: secretId }] },
      token: tokenA,
      url: stack.documentsUrl,
    });
    expect(asA.data).toEqual({
      _entities: [{ id: secretId, title: 'Merger plans', body: 'confidential acquisition' }],
    });
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
    const reusedByA = await stack.graphql(query, { variables: { after: cursor }, token: tokenA });
    expect(reusedByA.errors).toBeUndefined();
  });

  it("a partner of tenant B running a persisted operation gets nothing of tenant A's", async () => {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
      operations: { id: string; name: string }[];
    };
    const byName = (name: string) => manifest.operations.find((operation) => operation.name === name)!.id;
    const partnerB = await setup.tokenFor('tenant-b', { partner: true });
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

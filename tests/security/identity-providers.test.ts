import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTestIdentityProvider,
  type TestIdentityProvider,
  type TestSigner,
} from '../helpers/identity-provider.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/**
 * Tokens shaped as each provider documents its access tokens (claim names and
 * types), signed by test keys served from loopback JWKS endpoints. Auth0 is
 * the single issuer configured with the JWT_* claim variables; the others are
 * JWT_ISSUERS entries, side by side in one stack.
 */
const AUTH0_ISSUER = 'https://quarry-test.eu.auth0.com/';
const AUTH0_API = 'https://api.quarry.example';
const OKTA_ISSUER = 'https://quarry-test.okta.com/oauth2/default';
const OKTA_PARTNER_CLIENT = '0oa9partnerAcmeXyz697';
const ENTRA_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ENTRA_ISSUER = `https://login.microsoftonline.com/${ENTRA_TENANT}/v2.0`;
const ENTRA_APP_ID = '6e74172b-be56-4843-9ff4-e66a39bb12e3';

type Access = 'read' | 'write';
const seconds = () => Math.floor(Date.now() / 1000);
const lifetime = () => ({ iat: seconds(), exp: seconds() + 600 });

interface ProviderCase {
  name: string;
  tenant: string;
  /** The configured claim a refused token lacks, as the 401 message names it. */
  tenantClaim: string;
  token(options: { tenant?: string; access: Access; withoutTenant?: boolean }): Promise<string>;
}

describe('identity providers: Auth0, Keycloak, Okta and Entra ID tokens', () => {
  let stack: TestStack;
  let auth0: TestIdentityProvider;
  let keycloak: TestIdentityProvider;
  let keycloakPartners: TestIdentityProvider;
  let okta: TestIdentityProvider;
  let entra: TestIdentityProvider;
  const signers: Record<string, TestSigner> = {};

  beforeAll(async () => {
    [auth0, keycloak, keycloakPartners, okta, entra] = await Promise.all([
      startTestIdentityProvider(),
      startTestIdentityProvider({ issuerPath: '/realms/quarry' }),
      startTestIdentityProvider({ issuerPath: '/realms/partners' }),
      startTestIdentityProvider(),
      startTestIdentityProvider(),
    ]);
    signers.auth0 = await auth0.addSigningKey();
    // The two realms publish a key under the same kid: only the realm a token names may verify it.
    signers.keycloak = await keycloak.addSigningKey('shared-kid');
    signers.keycloakPartners = await keycloakPartners.addSigningKey('shared-kid');
    signers.okta = await okta.addSigningKey();
    signers.entra = await entra.addSigningKey();
    const keycloakMapping = {
      audience: 'quarry-api',
      discovery: true,
      tenantClaim: 'organization',
      scopeClaims: ['realm_access.roles', 'resource_access.quarry-api.roles'],
      roleScopes: {
        'quarry-reader': 'documents:read',
        'quarry-writer': ['documents:read', 'documents:write'],
        'quarry-search-admin': 'search:admin',
      },
    };
    stack = await startTestStack({
      env: {
        JWT_ISSUER: AUTH0_ISSUER,
        JWT_AUDIENCE: AUTH0_API,
        JWT_JWKS_URL: auth0.url,
        JWT_TENANT_CLAIM: 'https://quarry.example/tenant_id',
        JWT_SCOPE_CLAIMS: 'permissions',
        JWT_ISSUERS: JSON.stringify([
          { issuer: keycloak.issuer, ...keycloakMapping },
          { issuer: keycloakPartners.issuer, ...keycloakMapping, partnerIssuer: true },
          {
            issuer: OKTA_ISSUER,
            audience: 'api://default',
            jwksUrl: okta.url,
            tenantClaim: 'quarry_tenant',
            scopeClaims: ['scp'],
            roleScopes: { 'documents.read': 'documents:read', 'documents.write': 'documents:write' },
            clientIdClaims: ['cid'],
            partnerClients: [OKTA_PARTNER_CLIENT],
          },
          {
            issuer: ENTRA_ISSUER,
            audience: [ENTRA_APP_ID, `api://${ENTRA_APP_ID}`],
            jwksUrl: entra.url,
            tenantClaim: 'tid',
            scopeClaims: ['scp', 'roles'],
            roleScopes: { 'Documents.Read': 'documents:read', 'Documents.Write': 'documents:write' },
            clientIdClaims: ['azp'],
          },
        ]),
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all([auth0, keycloak, keycloakPartners, okta, entra].map((provider) => provider?.close()));
  });

  // Auth0 with RBAC and "Add Permissions in the Access Token"; the tenant from an Action's namespaced claim.
  const auth0Token = (tenant: string | undefined, permissions: string[], audience = AUTH0_API) =>
    signers.auth0!.sign({
      ...(tenant === undefined ? {} : { 'https://quarry.example/tenant_id': tenant }),
      iss: AUTH0_ISSUER,
      sub: 'auth0|64f1c0ffee0123456789abcd',
      aud: [audience, `${AUTH0_ISSUER}userinfo`],
      ...lifetime(),
      scope: 'openid profile email',
      azp: 'Xb3kq9LmT2vR8sWn4YpZ1cAd',
      permissions,
    });

  // Keycloak 26: realm and client roles; the tenant from the organization claim (a list of aliases).
  const keycloakToken = (
    realm: TestIdentityProvider,
    signer: TestSigner,
    options: { tenant?: string; realmRoles?: string[]; clientRoles?: string[] },
  ) =>
    signer.sign({
      ...lifetime(),
      auth_time: seconds(),
      jti: randomUUID(),
      iss: realm.issuer,
      aud: ['quarry-api', 'account'],
      sub: randomUUID(),
      typ: 'Bearer',
      azp: 'quarry-web',
      sid: randomUUID(),
      acr: '1',
      'allowed-origins': ['https://app.quarry.example'],
      realm_access: {
        roles: ['offline_access', 'uma_authorization', 'default-roles-quarry', ...(options.realmRoles ?? [])],
      },
      resource_access: {
        'quarry-api': { roles: options.clientRoles ?? [] },
        account: { roles: ['manage-account', 'view-profile'] },
      },
      scope: 'openid profile email organization',
      email_verified: true,
      ...(options.tenant === undefined ? {} : { organization: [options.tenant] }),
      preferred_username: 'alice',
    });

  // Okta custom authorization server: `scp` is an array, the client is `cid`, the tenant a custom claim.
  const oktaToken = (tenant: string | undefined, scopes: string[], clientId = '0oa8f5j3ecb5w3dF35d7') =>
    signers.okta!.sign({
      ver: 1,
      jti: `AT.${randomUUID()}`,
      iss: OKTA_ISSUER,
      aud: 'api://default',
      ...lifetime(),
      cid: clientId,
      uid: '00u8f5j3ecb5w3dF35d7',
      scp: ['openid', ...scopes],
      auth_time: seconds(),
      sub: 'alice@acme.example',
      ...(tenant === undefined ? {} : { quarry_tenant: tenant }),
    });

  // Entra ID v2.0: delegated scopes in the space-separated `scp`, app roles in `roles`, the directory in `tid`.
  const entraToken = (options: { withoutTenant?: boolean; scp?: string; roles?: string[] }) =>
    signers.entra!.sign({
      aud: ENTRA_APP_ID,
      iss: ENTRA_ISSUER,
      ...lifetime(),
      nbf: seconds(),
      aio: 'AWQAm/8TAAAA',
      azp: 'c44b4083-3bb0-49c1-b47d-974e53cbdf3c',
      azpacr: '0',
      name: 'Alice',
      oid: randomUUID(),
      preferred_username: 'alice@contoso.onmicrosoft.com',
      rh: '0.AAAAv4j5cvGGr0GRqy180BHbR',
      ...(options.roles ? { roles: options.roles } : {}),
      ...(options.scp ? { scp: options.scp } : {}),
      sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
      ...(options.withoutTenant ? {} : { tid: ENTRA_TENANT }),
      uti: 'fqiBqXLPj0eQa82S-IYFAA',
      ver: '2.0',
    });

  const providers: ProviderCase[] = [
    {
      name: 'Auth0',
      tenant: 'acme-auth0',
      tenantClaim: 'https://quarry.example/tenant_id',
      token: ({ tenant = 'acme-auth0', access, withoutTenant }) =>
        auth0Token(
          withoutTenant ? undefined : tenant,
          access === 'write' ? ['documents:read', 'documents:write'] : ['documents:read'],
        ),
    },
    {
      name: 'Keycloak',
      tenant: 'acme-keycloak',
      tenantClaim: 'organization',
      token: ({ tenant = 'acme-keycloak', access, withoutTenant }) =>
        keycloakToken(keycloak, signers.keycloak!, {
          tenant: withoutTenant ? undefined : tenant,
          ...(access === 'write' ? { clientRoles: ['quarry-writer'] } : { realmRoles: ['quarry-reader'] }),
        }),
    },
    {
      name: 'Okta',
      tenant: 'acme-okta',
      tenantClaim: 'quarry_tenant',
      token: ({ tenant = 'acme-okta', access, withoutTenant }) =>
        oktaToken(
          withoutTenant ? undefined : tenant,
          access === 'write' ? ['documents.read', 'documents.write'] : ['documents.read'],
        ),
    },
    {
      name: 'Entra ID',
      tenant: ENTRA_TENANT,
      tenantClaim: 'tid',
      // One directory per issuer, so another tenant would be another issuer: `tenant` is not varied.
      token: ({ access, withoutTenant }) =>
        entraToken({
          withoutTenant,
          scp: 'Documents.Read',
          ...(access === 'write' ? { roles: ['Documents.Write'] } : {}),
        }),
    },
  ];

  const byIds = 'query ($ids: [ID!]!) { documents(ids: $ids) { id title } }';

  describe.each(providers)('$name', (provider) => {
    it('is accepted with its tenant and scopes through the gateway and every subgraph', async () => {
      const word = `quarry${randomUUID().replaceAll('-', '')}`;
      const writer = await provider.token({ access: 'write' });
      const reader = await provider.token({ access: 'read' });
      const created = await stack.graphql<{ createDocument: { id: string } }>(
        'mutation ($title: String!) { createDocument(input: { title: $title, body: "mapped claims" }) { id } }',
        { variables: { title: `${provider.name} ${word}` }, token: writer },
      );
      expect(created.errors).toBeUndefined();
      const id = created.data!.createDocument.id;
      await stack.settle();

      for (const url of [stack.gatewayUrl, stack.documentsUrl]) {
        const read = await stack.graphql(byIds, { variables: { ids: [id] }, token: reader, url });
        expect(read.data, url).toEqual({ documents: [{ id, title: `${provider.name} ${word}` }] });
      }
      for (const url of [stack.gatewayUrl, stack.searchUrl]) {
        const found = await stack.graphql(`{ search(query: "${word}") { total } }`, { token: reader, url });
        expect(found.data, url).toEqual({ search: { total: 1 } });
      }
      // Read access only: a mutation is refused by the gateway and by the subgraph itself.
      for (const url of [stack.gatewayUrl, stack.documentsUrl]) {
        const write = await stack.graphql(
          'mutation { createDocument(input: { title: "no", body: "no" }) { id } }',
          { token: reader, url },
        );
        expect(write.errors?.[0]?.extensions?.code, url).toBe('FORBIDDEN');
      }
    });

    it('is refused with 401 naming the missing mapped claim, at the gateway and every subgraph', async () => {
      const token = await provider.token({ access: 'write', withoutTenant: true });
      for (const url of [stack.gatewayUrl, stack.documentsUrl, stack.searchUrl]) {
        const result = await stack.graphql('{ documents(ids: ["x"]) { id } }', { token, url });
        expect(result.status, url).toBe(401);
        expect(result.errors?.[0]?.extensions, url).toEqual({ code: 'UNAUTHENTICATED' });
        expect(result.errors?.[0]?.message, url).toBe(`Token has no valid "${provider.tenantClaim}" claim`);
      }
    });
  });

  it.each(providers.filter(({ name }) => name !== 'Entra ID'))(
    "a $name token of another tenant does not see the first tenant's document",
    async (provider) => {
      const created = await stack.graphql<{ createDocument: { id: string } }>(
        'mutation { createDocument(input: { title: "private", body: "first tenant only" }) { id } }',
        { token: await provider.token({ access: 'write' }) },
      );
      const id = created.data!.createDocument.id;
      const other = await provider.token({ tenant: 'globex', access: 'read' });
      for (const url of [stack.gatewayUrl, stack.documentsUrl]) {
        const read = await stack.graphql(byIds, { variables: { ids: [id] }, token: other, url });
        expect(read.data, url).toEqual({ documents: [null] });
      }
    },
  );

  it('grants an admin scope through a mapped Keycloak role, and only to a token with that role', async () => {
    const readSynonyms = '{ synonyms { rules { word } } }';
    const withRole = await keycloakToken(keycloak, signers.keycloak!, {
      tenant: 'acme-keycloak',
      realmRoles: ['quarry-reader'],
      clientRoles: ['quarry-search-admin'],
    });
    const admitted = await stack.graphql(readSynonyms, { token: withRole });
    expect(admitted.errors).toBeUndefined();
    const withoutRole = await keycloakToken(keycloak, signers.keycloak!, {
      tenant: 'acme-keycloak',
      realmRoles: ['quarry-reader'],
    });
    const refused = await stack.graphql(readSynonyms, { token: withoutRole });
    expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it("never verifies a token naming one realm with the other realm's key, even under the same kid", async () => {
    const forged = await keycloakToken(keycloak, signers.keycloakPartners!, {
      tenant: 'acme-keycloak',
      clientRoles: ['quarry-writer'],
    });
    const result = await stack.graphql('{ documents(ids: ["x"]) { id } }', { token: forged });
    expect(result.status).toBe(401);
    expect(result.errors?.[0]?.message).toBe('Token signature is invalid');
    const reverse = await keycloakToken(keycloakPartners, signers.keycloak!, {
      tenant: 'acme-keycloak',
      clientRoles: ['quarry-writer'],
    });
    expect((await stack.graphql('{ documents(ids: ["x"]) { id } }', { token: reverse })).status).toBe(401);
  });

  it("treats every token of the partner realm as a partner's (persisted operations only)", async () => {
    const token = await keycloakToken(keycloakPartners, signers.keycloakPartners!, {
      tenant: 'acme-keycloak',
      clientRoles: ['quarry-writer'],
    });
    const result = await stack.graphql('{ documents(ids: ["x"]) { id } }', { token });
    expect(result.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ID_REQUIRED');
  });

  it('treats an Okta client on the partner client list as a partner', async () => {
    const partner = await oktaToken('acme-okta', ['documents.read'], OKTA_PARTNER_CLIENT);
    const result = await stack.graphql('{ documents(ids: ["x"]) { id } }', { token: partner });
    expect(result.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ID_REQUIRED');
  });

  it('refuses a token for another audience and one from an issuer nobody configured', async () => {
    const otherAudience = await auth0Token('acme-auth0', ['documents:read'], 'https://another-api.example');
    const unknownIssuer = await signers.auth0!.sign({
      'https://quarry.example/tenant_id': 'acme-auth0',
      iss: 'https://quarry-test.us.auth0.com/',
      aud: AUTH0_API,
      ...lifetime(),
    });
    for (const [token, message] of [
      [otherAudience, 'Token claim "aud" is invalid'],
      [unknownIssuer, 'Token claim "iss" is invalid'],
    ] as const) {
      const result = await stack.graphql('{ documents(ids: ["x"]) { id } }', { token });
      expect(result.status).toBe(401);
      expect(result.errors?.[0]?.message).toBe(message);
    }
  });

  it('found the Keycloak realms through OpenID Connect discovery, and reports every issuer as ready', async () => {
    const ready = await fetch(new URL('/health/ready', stack.gatewayUrl));
    const body = (await ready.json()) as { dependencies: Record<string, { ok: boolean; detail: unknown }> };
    expect(ready.status).toBe(200);
    expect(body.dependencies.identityProvider).toMatchObject({
      ok: true,
      detail: {
        issuers: {
          [AUTH0_ISSUER]: 'fresh',
          [keycloak.issuer]: 'fresh',
          [keycloakPartners.issuer]: 'fresh',
          [OKTA_ISSUER]: 'fresh',
          [ENTRA_ISSUER]: 'fresh',
        },
      },
    });
  });
});

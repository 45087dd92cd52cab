import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { defaultClaimMapping } from './claim-mapping.ts';

const single = { JWT_JWKS_FILE: 'jwks.json', JWT_ISSUER: 'issuer', JWT_AUDIENCE: 'quarry' };

describe('authentication configuration', () => {
  it("keeps one issuer with Quarry's own claims by default", () => {
    expect(loadConfig(single).jwt.issuers).toEqual([
      {
        issuer: 'issuer',
        audience: ['quarry'],
        keys: { jwksFile: 'jwks.json' },
        claims: defaultClaimMapping,
      },
    ]);
  });

  it('reads the claim mapping variables', () => {
    const [issuer] = loadConfig({
      ...single,
      JWT_AUDIENCE: 'https://api.quarry.example, quarry',
      JWT_TENANT_CLAIM: 'https://quarry.example/tenant_id',
      JWT_SCOPE_CLAIMS: 'scope, realm_access.roles',
      JWT_ROLE_SCOPES:
        'quarry-reader=documents:read, quarry-writer=documents:read documents:write, quarry-admin=tenant:admin search:admin',
      JWT_CLIENT_ID_CLAIMS: 'cid',
      JWT_PARTNER_CLAIM: 'realm_access.roles=partner',
      JWT_TIER_CLAIM: 'plan.tier',
    }).jwt.issuers;
    expect(issuer?.audience).toEqual(['https://api.quarry.example', 'quarry']);
    expect(issuer?.claims).toEqual({
      tenant: ['https://quarry.example/tenant_id'],
      scopes: [['scope'], ['realm_access', 'roles']],
      roleScopes: new Map([
        ['quarry-reader', ['documents:read']],
        ['quarry-writer', ['documents:read', 'documents:write']],
        ['quarry-admin', ['tenant:admin', 'search:admin']],
      ]),
      clientIds: [['cid']],
      tier: ['plan', 'tier'],
      partner: {
        claim: { path: ['realm_access', 'roles'], value: 'partner' },
        clients: [],
        wholeIssuer: false,
      },
    });
  });

  it('adds the JWT_ISSUERS entries, each inheriting what it does not say', () => {
    const config = loadConfig({
      ...single,
      JWT_SCOPE_CLAIMS: 'permissions',
      JWT_ISSUERS: JSON.stringify([
        {
          issuer: 'https://idp.example/realms/partners',
          audience: ['quarry-api'],
          discovery: true,
          tenantClaim: ['resource_access', 'my.client', 'tenant'],
          partnerIssuer: true,
          partnerClaim: null,
        },
      ]),
    });
    expect(config.jwt.issuers[1]).toEqual({
      issuer: 'https://idp.example/realms/partners',
      audience: ['quarry-api'],
      keys: { discovery: true },
      claims: {
        ...defaultClaimMapping,
        tenant: ['resource_access', 'my.client', 'tenant'],
        scopes: [['permissions']],
        partner: { claim: undefined, clients: [], wholeIssuer: true },
      },
    });
  });

  it('lets JWT_ISSUERS stand alone, and finds the single issuer keys by discovery', () => {
    const alone = loadConfig({
      JWT_ISSUERS: JSON.stringify([
        { issuer: 'https://a.example/', audience: 'quarry', jwksUrl: 'https://a.example/jwks' },
      ]),
    });
    expect(alone.jwt.issuers.map(({ issuer }) => issuer)).toEqual(['https://a.example/']);
    const discovered = loadConfig({
      JWT_ISSUER: 'https://a.example/',
      JWT_AUDIENCE: 'q',
      JWT_OIDC_DISCOVERY: 'true',
    });
    expect(discovered.jwt.issuers[0]?.keys).toEqual({ discovery: true });
  });

  it.each([
    [
      { ...single, JWT_ROLE_SCOPES: 'admin=everything' },
      /JWT_ROLE_SCOPES: "admin=everything" is not role=scope/,
    ],
    [{ ...single, JWT_ROLE_SCOPES: 'admin' }, /JWT_ROLE_SCOPES:/],
    [
      { ...single, JWT_ROLE_SCOPES: 'admin=search:write' },
      /JWT_ROLE_SCOPES: "admin=search:write" is not role=scope/,
    ],
    [{ ...single, JWT_PARTNER_CLAIM: 'client_type' }, /JWT_PARTNER_CLAIM: "client_type" is not claim=value/],
    [{ ...single, JWT_ISSUERS: '{not json' }, /JWT_ISSUERS: is not JSON/],
    [
      { ...single, JWT_ISSUERS: '[{"issuer":"b","audience":"q"}]' },
      /JWT_ISSUERS: \[0\]\.jwksUrl: give exactly one key source/,
    ],
    [
      { ...single, JWT_ISSUERS: '[{"issuer":"b","audience":[],"jwksUrl":"https://b/jwks"}]' },
      /JWT_ISSUERS: \[0\]\.audience:/,
    ],
    [
      {
        ...single,
        JWT_ISSUERS: '[{"issuer":"b","audience":"q","jwksUrl":"https://b/jwks","tenantclaim":"t"}]',
      },
      /JWT_ISSUERS: \[0\]:.*tenantclaim/,
    ],
    [
      {
        ...single,
        JWT_ISSUERS: '[{"issuer":"b","audience":"q","jwksUrl":"https://b/jwks","roleScopes":{"r":"admin"}}]',
      },
      /JWT_ISSUERS: \[0\]\.roleScopes\.r: /,
    ],
    [
      { ...single, JWT_ISSUERS: '[{"issuer":"issuer","audience":"q","jwksUrl":"https://b/jwks"}]' },
      /JWT_ISSUERS: \[0\]\.issuer: "issuer" is configured twice/,
    ],
    [{ JWT_ISSUER: 'a', JWT_JWKS_URL: 'https://a/jwks' }, /JWT_AUDIENCE: required with JWT_ISSUER/],
    [
      {
        NODE_ENV: 'production',
        CURSOR_SECRET: 'x'.repeat(32),
        JWT_ISSUERS: '[{"issuer":"b","audience":"q","jwksFile":"jwks.json"}]',
      },
      /JWT_ISSUERS: \[0\]\.jwksFile: not allowed in production/,
    ],
  ])('refuses a bad value, naming where it is %#', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

import { describe, expect, it } from 'vitest';
import {
  type ClaimMapping,
  defaultClaimMapping,
  parseClaimPath,
  principalFrom,
  readClaim,
} from './claim-mapping.ts';

const exp = 2_000_000_000;
const mapped = (overrides: Partial<ClaimMapping>): ClaimMapping => ({ ...defaultClaimMapping, ...overrides });

describe('claim paths', () => {
  it('reads a namespaced URL claim as one claim and anything else as a dotted path', () => {
    expect(parseClaimPath('https://quarry.example/tenant_id')).toEqual(['https://quarry.example/tenant_id']);
    expect(parseClaimPath('resource_access.quarry-api.roles')).toEqual([
      'resource_access',
      'quarry-api',
      'roles',
    ]);
    expect(parseClaimPath('tid')).toEqual(['tid']);
  });

  it("follows own keys only, never the object's prototype", () => {
    expect(readClaim({ a: { b: 'x' } }, ['a', 'b'])).toBe('x');
    expect(readClaim({ a: {} }, ['a', 'constructor'])).toBeUndefined();
    expect(readClaim({ a: 'text' }, ['a', 'length'])).toBeUndefined();
  });
});

describe('principalFrom', () => {
  it("keeps today's defaults: tenant_id, a space-separated scope, client_type, tier, azp and client_id", () => {
    const principal = principalFrom(
      {
        tenant_id: 'acme',
        scope: 'documents:read  documents:write',
        client_type: 'partner',
        tier: 'premium',
        azp: 'web',
        client_id: 'svc',
        sub: 'u1',
        exp,
      },
      defaultClaimMapping,
      'token',
    );
    expect(principal).toEqual({
      tenantId: 'acme',
      subject: 'u1',
      scopes: new Set(['documents:read', 'documents:write']),
      clientType: 'partner',
      clientIds: ['web', 'svc'],
      tier: 'premium',
      token: 'token',
      expiresAt: exp * 1000,
    });
  });

  it('unions scopes from strings and arrays, mapping role names and keeping other names as they are', () => {
    const mapping = mapped({
      scopes: [['scp'], ['roles']],
      roleScopes: new Map([['Documents.ReadWrite', ['documents:read', 'documents:write']]]),
    });
    const principal = principalFrom(
      { tenant_id: 't', scp: 'documents:read openid', roles: ['Documents.ReadWrite', 7], exp },
      mapping,
      'x',
    );
    expect([...principal.scopes].sort()).toEqual(['documents:read', 'documents:write', 'openid']);
  });

  it('accepts a tenant list of exactly one, and refuses an ambiguous or malformed one naming only the claim', () => {
    const mapping = mapped({ tenant: ['organization'] });
    expect(principalFrom({ organization: ['acme'], exp }, mapping, 'x').tenantId).toBe('acme');
    for (const organization of [['acme', 'globex'], [], 'acme/../b', { acme: {} }, undefined]) {
      expect(() => principalFrom({ organization, exp }, mapping, 'x')).toThrow(
        expect.objectContaining({
          message: 'Token has no valid "organization" claim',
          extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }),
        }),
      );
    }
  });

  it('recognises a partner by a claim value in an array, by client id or subject, or by issuer', () => {
    const claims = { tenant_id: 't', cid: 'partner-app', sub: 'u', roles: ['viewer', 'partner'], exp };
    const partnerOf = (partner: ClaimMapping['partner']) =>
      principalFrom(claims, mapped({ clientIds: [['cid']], partner }), 'x').clientType;
    expect(partnerOf({ claim: { path: ['roles'], value: 'partner' }, clients: [], wholeIssuer: false })).toBe(
      'partner',
    );
    expect(partnerOf({ clients: ['partner-app'], wholeIssuer: false })).toBe('partner');
    expect(partnerOf({ clients: ['u'], wholeIssuer: false })).toBe('partner');
    expect(partnerOf({ clients: [], wholeIssuer: true })).toBe('partner');
    expect(
      partnerOf({ claim: { path: ['roles'], value: 'admin' }, clients: ['other'], wholeIssuer: false }),
    ).toBe('first-party');
  });

  it('reads the tier from a mapped claim, standard when absent', () => {
    const mapping = mapped({ tier: ['https://quarry.example/plan'] });
    expect(
      principalFrom({ tenant_id: 't', 'https://quarry.example/plan': 'premium', exp }, mapping, 'x').tier,
    ).toBe('premium');
    expect(principalFrom({ tenant_id: 't', exp }, mapping, 'x').tier).toBe('standard');
  });
});

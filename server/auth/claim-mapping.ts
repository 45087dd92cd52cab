import type { JWTPayload } from 'jose';
import { requestError } from '../errors.ts';
import type { Principal } from './jwt-verifier.ts';

/** Where a value sits in a token's claims, one object key per segment: `['realm_access', 'roles']`. */
export type ClaimPath = readonly string[];

/**
 * Reads a configured claim path. A namespaced URL claim (Auth0's
 * `https://quarry.example/tenant_id`) is one claim even though it has dots;
 * anything else is a dotted path into nested claims (`realm_access.roles`).
 * A path whose keys themselves contain dots is written as a JSON array in
 * JWT_ISSUERS instead.
 */
export function parseClaimPath(text: string): ClaimPath {
  return /^https?:\/\//.test(text) ? [text] : text.split('.');
}

/** How a path is named in messages: the configuration's own spelling, never a token value. */
export const describeClaimPath = (path: ClaimPath) => path.join('.');

/** How one issuer's tokens say who is calling. Defaults are Quarry's own claims (`tenant_id`, `scope`, ...). */
export interface ClaimMapping {
  tenant: ClaimPath;
  /** Every claim scopes are read from, a space-separated string or an array of strings each. */
  scopes: readonly ClaimPath[];
  /** Provider scope or role names that grant Quarry scopes; a name not listed counts as itself. */
  roleScopes: ReadonlyMap<string, readonly string[]>;
  /** Claims naming the OAuth client the token was issued to (`azp`, `client_id`, Okta's `cid`). */
  clientIds: readonly ClaimPath[];
  tier: ClaimPath;
  partner: PartnerRule;
}

/** A token is a partner's when any rule matches. */
export interface PartnerRule {
  /** A claim holding this value, or an array of strings containing it. */
  claim?: { path: ClaimPath; value: string };
  /** Client ids (from `clientIds` claims) or subjects that are partners. */
  clients: readonly string[];
  /** Every token of this issuer is a partner's: a separate realm or tenant for partners. */
  wholeIssuer: boolean;
}

export const defaultClaimMapping: ClaimMapping = {
  tenant: ['tenant_id'],
  scopes: [['scope']],
  roleScopes: new Map(),
  clientIds: [['azp'], ['client_id']],
  tier: ['tier'],
  partner: { claim: { path: ['client_type'], value: 'partner' }, clients: [], wholeIssuer: false },
};

/** Tenant ids end up in cache keys and index names, so only a plain, bounded charset is accepted. */
export const tenantIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function readClaim(claims: JWTPayload, path: ClaimPath): unknown {
  let value: unknown = claims;
  for (const key of path) {
    // Own keys only: a path such as `constructor` must not reach Object's prototype.
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A space-separated string (`scope`, Entra's `scp`) or an array of strings (Okta's `scp`, roles). */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

/** A string, or a list holding exactly one (Keycloak's organization claim): more than one is ambiguous. */
function tenantOf(value: unknown): string | undefined {
  const only = Array.isArray(value) && value.length === 1 ? value[0] : value;
  return typeof only === 'string' && tenantIdPattern.test(only) ? only : undefined;
}

function isPartner(claims: JWTPayload, rule: PartnerRule, clientIds: readonly string[]): boolean {
  if (rule.wholeIssuer) return true;
  if (rule.claim) {
    const value = readClaim(claims, rule.claim.path);
    if (value === rule.claim.value || (Array.isArray(value) && value.includes(rule.claim.value))) return true;
  }
  return [claims.sub, ...clientIds].some((id) => id !== undefined && rule.clients.includes(id));
}

/**
 * The principal a verified token maps to. A token without a usable tenant is
 * refused with a message naming the configured claim, never a token value.
 */
export function principalFrom(claims: JWTPayload, mapping: ClaimMapping, token: string): Principal {
  const tenantId = tenantOf(readClaim(claims, mapping.tenant));
  if (tenantId === undefined) {
    throw requestError('UNAUTHENTICATED', `Token has no valid "${describeClaimPath(mapping.tenant)}" claim`);
  }
  const scopes = new Set<string>();
  for (const path of mapping.scopes) {
    for (const name of stringsOf(readClaim(claims, path))) {
      for (const scope of mapping.roleScopes.get(name) ?? [name]) scopes.add(scope);
    }
  }
  const clientIds = mapping.clientIds
    .map((path) => readClaim(claims, path))
    .filter((value): value is string => typeof value === 'string');
  const tier = readClaim(claims, mapping.tier);
  return {
    tenantId,
    subject: claims.sub,
    scopes,
    clientType: isPartner(claims, mapping.partner, clientIds) ? 'partner' : 'first-party',
    clientIds,
    tier: typeof tier === 'string' && tier ? tier : 'standard',
    token,
    // `exp` is required by the verifier, so it is always a number here.
    expiresAt: (claims.exp ?? 0) * 1000,
  };
}

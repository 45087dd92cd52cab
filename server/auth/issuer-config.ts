import { z } from 'zod';
import { type ClaimMapping, defaultClaimMapping, parseClaimPath } from './claim-mapping.ts';
import { QUARRY_SCOPES } from './scopes.ts';

/** Where an issuer's public keys come from. Never from a token's `jku`, `x5u` or `jwk`. */
export type KeySource = { jwksUrl: string } | { jwksFile: string } | { discovery: true };

/** One identity provider whose tokens Quarry accepts, checked only against its own keys. */
export interface TrustedIssuer {
  /** Exactly the token's `iss`. */
  issuer: string;
  /** A token must name at least one of these in `aud` (a string or an array there). */
  audience: readonly string[];
  keys: KeySource;
  claims: ClaimMapping;
}

const quarryScopeList = QUARRY_SCOPES.join(', ');
const quarryScope = z.enum(QUARRY_SCOPES, { error: `must be one of ${quarryScopeList}` });
const commaList = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
const claimPathText = z.string().trim().min(1).transform(parseClaimPath);
/** In JSON, a path is its usual text or an array of keys (for keys that contain dots). */
const claimPathJson = z.union([claimPathText, z.array(z.string().min(1)).min(1)]);

/** `quarry-reader=documents:read,quarry-writer=documents:read documents:write` */
const roleScopesText = z
  .string()
  .default('')
  .transform((value, context) => {
    const roles = new Map<string, string[]>();
    for (const item of commaList(value)) {
      const [name = '', scopes = ''] = item.split('=', 2).map((part) => part.trim());
      const granted = scopes.split(/\s+/).filter(Boolean);
      const unknown = granted.find((scope) => !quarryScope.safeParse(scope).success);
      if (!item.includes('=') || !name || granted.length === 0 || unknown !== undefined) {
        context.addIssue({
          code: 'custom',
          message: `"${item}" is not role=scope, with scopes from ${quarryScopeList}`,
        });
        return z.NEVER;
      }
      roles.set(name, granted);
    }
    return roles;
  });

/** `client_type=partner`: the claim (a path) and the value that marks a partner. */
const partnerClaimText = z
  .string()
  .default('client_type=partner')
  .transform((value, context) => {
    const [path = '', claimValue = ''] = value.split('=', 2).map((part) => part.trim());
    if (!path || !claimValue) {
      context.addIssue({ code: 'custom', message: `"${value}" is not claim=value` });
      return z.NEVER;
    }
    return { path: parseClaimPath(path), value: claimValue };
  });

const issuerEntry = z
  .strictObject({
    issuer: z.string().min(1),
    audience: z.union([
      z
        .string()
        .min(1)
        .transform((one) => [one]),
      z.array(z.string().min(1)).min(1),
    ]),
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    jwksFile: z.string().min(1).optional(),
    discovery: z.literal(true).optional(),
    tenantClaim: claimPathJson.optional(),
    scopeClaims: z.array(claimPathJson).min(1).optional(),
    roleScopes: z.record(z.string().min(1), z.union([quarryScope, z.array(quarryScope).min(1)])).optional(),
    clientIdClaims: z.array(claimPathJson).optional(),
    tierClaim: claimPathJson.optional(),
    /** `null` turns the default partner claim off for this issuer. */
    partnerClaim: z
      .strictObject({ claim: claimPathJson, value: z.string().min(1) })
      .nullable()
      .optional(),
    partnerClients: z.array(z.string().min(1)).optional(),
    partnerIssuer: z.boolean().optional(),
  })
  .superRefine((entry, context) => {
    const sources = [entry.jwksUrl, entry.jwksFile, entry.discovery].filter((source) => source !== undefined);
    if (sources.length !== 1) {
      context.addIssue({
        code: 'custom',
        path: ['jwksUrl'],
        message: 'give exactly one key source: jwksUrl, jwksFile or "discovery": true',
      });
    }
  });

const issuersJson = z
  .string()
  .transform((value, context) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      context.addIssue({ code: 'custom', message: 'is not JSON: expected an array of issuers' });
      return z.NEVER;
    }
  })
  .pipe(z.array(issuerEntry).min(1));

/** The authentication variables; see docs/configuration.md. */
export const jwtEnvironmentShape = {
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().transform(commaList).pipe(z.array(z.string()).min(1)).optional(),
  JWT_JWKS_URL: z.url().optional(),
  JWT_JWKS_FILE: z.string().min(1).optional(),
  JWT_OIDC_DISCOVERY: z.stringbool().default(false),
  JWT_TENANT_CLAIM: z.string().default('tenant_id').pipe(claimPathText),
  JWT_SCOPE_CLAIMS: z.string().default('scope').transform(commaList).pipe(z.array(claimPathText).min(1)),
  JWT_ROLE_SCOPES: roleScopesText,
  JWT_CLIENT_ID_CLAIMS: z.string().default('azp,client_id').transform(commaList).pipe(z.array(claimPathText)),
  JWT_PARTNER_CLAIM: partnerClaimText,
  JWT_TIER_CLAIM: z.string().default('tier').pipe(claimPathText),
  JWT_ISSUERS: issuersJson.optional(),
  JWT_ALGORITHMS: z
    .string()
    .transform(commaList)
    .pipe(z.array(z.enum(['RS256', 'ES256', 'PS256', 'EdDSA'])).min(1))
    .default(['RS256', 'ES256']),
  JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  JWT_JWKS_COOLDOWN_SECONDS: z.coerce.number().int().min(0).default(30),
  JWT_JWKS_MAX_AGE_SECONDS: z.coerce.number().int().positive().default(600),
  JWT_JWKS_STALE_IF_ERROR_SECONDS: z.coerce.number().int().min(0).default(3600),
  JWT_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  JWT_CACHE_MAX_ENTRIES: z.coerce.number().int().positive().default(10_000),
};

type JwtEnvironment = z.output<z.ZodObject<typeof jwtEnvironmentShape>>;
type IssuerEntry = z.output<typeof issuerEntry>;

/** Cross-variable rules, added to the configuration's own check so errors name the variable. */
export function checkJwtEnvironment(env: JwtEnvironment, production: boolean, context: z.RefinementCtx) {
  const issue = (path: (string | number)[], message: string) =>
    context.addIssue({ code: 'custom', path, message });
  if (!env.JWT_ISSUER && !env.JWT_ISSUERS) {
    issue(['JWT_ISSUER'], 'required: the issuer (`iss`) of accepted tokens, or list issuers in JWT_ISSUERS');
  }
  if (env.JWT_ISSUER) {
    if (!env.JWT_AUDIENCE) issue(['JWT_AUDIENCE'], 'required with JWT_ISSUER');
    if (!env.JWT_JWKS_URL && !env.JWT_JWKS_FILE && !env.JWT_OIDC_DISCOVERY) {
      issue(['JWT_JWKS_URL'], 'set JWT_JWKS_URL or JWT_JWKS_FILE (or JWT_OIDC_DISCOVERY=true)');
    } else if (production && !env.JWT_JWKS_URL && !env.JWT_OIDC_DISCOVERY) {
      issue(
        ['JWT_JWKS_URL'],
        "required in production: the identity provider's JWKS (or JWT_OIDC_DISCOVERY=true), not a local development key",
      );
    }
  }
  const seen = new Set(env.JWT_ISSUER ? [env.JWT_ISSUER] : []);
  for (const [index, entry] of (env.JWT_ISSUERS ?? []).entries()) {
    if (seen.has(entry.issuer)) {
      issue(['JWT_ISSUERS', index, 'issuer'], `"${entry.issuer}" is configured twice`);
    }
    seen.add(entry.issuer);
    if (production && entry.jwksFile) {
      issue(['JWT_ISSUERS', index, 'jwksFile'], 'not allowed in production: use jwksUrl or discovery');
    }
  }
}

function keySourceOf(source: { jwksUrl?: string; jwksFile?: string; discovery?: boolean }): KeySource {
  // JWT_JWKS_URL first, as before JWT_OIDC_DISCOVERY existed; a file only when nothing remote is named.
  if (source.jwksUrl) return { jwksUrl: source.jwksUrl };
  if (source.discovery) return { discovery: true };
  if (source.jwksFile) return { jwksFile: source.jwksFile };
  throw new Error('no key source (the configuration check requires one)');
}

/** An entry of JWT_ISSUERS: what it does not say comes from the JWT_* claim variables. */
function mappingOf(entry: IssuerEntry, base: ClaimMapping): ClaimMapping {
  const roleScopes = entry.roleScopes
    ? new Map(Object.entries(entry.roleScopes).map(([role, scopes]) => [role, [scopes].flat()]))
    : base.roleScopes;
  const partnerClaim =
    entry.partnerClaim === null
      ? undefined
      : entry.partnerClaim
        ? { path: entry.partnerClaim.claim, value: entry.partnerClaim.value }
        : base.partner.claim;
  return {
    tenant: entry.tenantClaim ?? base.tenant,
    scopes: entry.scopeClaims ?? base.scopes,
    roleScopes,
    clientIds: entry.clientIdClaims ?? base.clientIds,
    tier: entry.tierClaim ?? base.tier,
    partner: {
      claim: partnerClaim,
      clients: entry.partnerClients ?? [],
      wholeIssuer: entry.partnerIssuer ?? false,
    },
  };
}

/** The `jwt` slice of the configuration: every trusted issuer, and how keys and principals are cached. */
export function jwtConfigFrom(env: JwtEnvironment) {
  const base: ClaimMapping = {
    ...defaultClaimMapping,
    tenant: env.JWT_TENANT_CLAIM,
    scopes: env.JWT_SCOPE_CLAIMS,
    roleScopes: env.JWT_ROLE_SCOPES,
    clientIds: env.JWT_CLIENT_ID_CLAIMS,
    tier: env.JWT_TIER_CLAIM,
    partner: { ...defaultClaimMapping.partner, claim: env.JWT_PARTNER_CLAIM },
  };
  const issuers: TrustedIssuer[] = [];
  if (env.JWT_ISSUER) {
    issuers.push({
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE ?? [],
      keys: keySourceOf({
        jwksUrl: env.JWT_JWKS_URL,
        jwksFile: env.JWT_JWKS_FILE,
        discovery: env.JWT_OIDC_DISCOVERY,
      }),
      claims: base,
    });
  }
  for (const entry of env.JWT_ISSUERS ?? []) {
    issuers.push({
      issuer: entry.issuer,
      audience: entry.audience,
      keys: keySourceOf(entry),
      claims: mappingOf(entry, base),
    });
  }
  return {
    issuers,
    algorithms: env.JWT_ALGORITHMS,
    clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
    jwksCooldownSeconds: env.JWT_JWKS_COOLDOWN_SECONDS,
    jwksMaxAgeSeconds: env.JWT_JWKS_MAX_AGE_SECONDS,
    jwksStaleIfErrorSeconds: env.JWT_JWKS_STALE_IF_ERROR_SECONDS,
    /** Verified principals reused per token (`cachedVerifier`); a TTL of 0 verifies every request. */
    cache: { ttlMs: env.JWT_CACHE_TTL_SECONDS * 1000, maxEntries: env.JWT_CACHE_MAX_ENTRIES },
  };
}

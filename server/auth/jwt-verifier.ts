import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { JwtConfig } from '../config.ts';
import { requestError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { createRemoteJwks } from './remote-jwks.ts';

/** Who is calling, as proven by a verified token. The tenant comes from nowhere else. */
export interface Principal {
  tenantId: string;
  subject: string | undefined;
  scopes: ReadonlySet<string>;
  /** `partner` clients may only run persisted operations; everyone else is `first-party`. */
  clientType: 'partner' | 'first-party';
  /** The OAuth client the token was issued to, by each claim that names one (`azp`, `client_id`). */
  clientIds: readonly string[];
  /** Rate-limit tier from the `tier` claim; `standard` when absent. */
  tier: string;
  /** The verified bearer token, forwarded to subgraphs so they can verify it again. */
  token: string;
  /** When the token expires (`exp`, epoch milliseconds): nothing may trust it, or remember it, longer. */
  expiresAt: number;
}

export interface JwtVerifier {
  verify(token: string): Promise<Principal>;
}

/** Tenant ids end up in cache keys and index names, so only a plain, bounded charset is accepted. */
export const tenantIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'Token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `Token claim "${error.claim}" is invalid`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'Token algorithm is not allowed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'Token was not signed by a known key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'Token signature is invalid';
  return 'Token is invalid';
}

async function keySetFor(config: Omit<JwtConfig, 'cache'>, logger?: Logger): Promise<JWTVerifyGetKey> {
  if (config.jwksUrl) {
    return createRemoteJwks({
      url: new URL(config.jwksUrl),
      cooldownMs: config.jwksCooldownSeconds * 1000,
      maxAgeMs: config.jwksMaxAgeSeconds * 1000,
      staleIfErrorMs: config.jwksStaleIfErrorSeconds * 1000,
      logger,
    });
  }
  if (!config.jwksFile) throw new Error('JWT key source missing: set JWT_JWKS_URL or JWT_JWKS_FILE');
  const jwks = JSON.parse(await readFile(config.jwksFile, 'utf8')) as JSONWebKeySet;
  return createLocalJWKSet(jwks);
}

export async function createJwtVerifier(
  config: Omit<JwtConfig, 'cache'>,
  options: { keySet?: JWTVerifyGetKey; logger?: Logger } = {},
): Promise<JwtVerifier> {
  const getKey = options.keySet ?? (await keySetFor(config, options.logger));
  return {
    async verify(token) {
      let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: config.algorithms,
          clockTolerance: config.clockToleranceSeconds,
          requiredClaims: ['exp', 'iss', 'aud'],
        }));
      } catch (error) {
        throw requestError('UNAUTHENTICATED', describeFailure(error));
      }
      const tenantId = payload.tenant_id;
      if (typeof tenantId !== 'string' || !tenantIdPattern.test(tenantId)) {
        throw requestError('UNAUTHENTICATED', 'Token has no valid "tenant_id" claim');
      }
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      return {
        tenantId,
        subject: payload.sub,
        scopes: new Set(scope.split(' ').filter(Boolean)),
        clientType: payload.client_type === 'partner' ? 'partner' : 'first-party',
        clientIds: [payload.azp, payload.client_id].filter((value) => typeof value === 'string'),
        tier: typeof payload.tier === 'string' && payload.tier ? payload.tier : 'standard',
        token,
        // `exp` is required above, so it is always a number here.
        expiresAt: (payload.exp ?? 0) * 1000,
      };
    },
  };
}

/** Reads `Authorization: Bearer <token>`; anything else is a missing token. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization?.trim() ?? '');
  return match?.[1];
}

export async function authenticate(
  verifier: JwtVerifier,
  authorization: string | undefined,
): Promise<Principal> {
  const token = bearerToken(authorization);
  if (!token) throw requestError('UNAUTHENTICATED', 'A bearer token is required');
  return verifier.verify(token);
}

import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  decodeJwt,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { JwtConfig } from '../config.ts';
import { requestError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { principalFrom, tenantIdPattern } from './claim-mapping.ts';
import { IdentityProviderUnavailableError } from './identity-provider-unavailable-error.ts';
import type { TrustedIssuer } from './issuer-config.ts';
import { createRemoteJwks, type KeyState } from './remote-jwks.ts';

/** Who is calling, as proven by a verified token. The tenant comes from nowhere else. */
export interface Principal {
  tenantId: string;
  subject: string | undefined;
  scopes: ReadonlySet<string>;
  /** `partner` clients may only run persisted operations; everyone else is `first-party`. */
  clientType: 'partner' | 'first-party';
  /** The OAuth client the token was issued to, by each claim that names one (JWT_CLIENT_ID_CLAIMS). */
  clientIds: readonly string[];
  /** Rate-limit tier from the tier claim (JWT_TIER_CLAIM); `standard` when absent. */
  tier: string;
  /** The verified bearer token, forwarded to subgraphs so they can verify it again. */
  token: string;
  /** When the token expires (`exp`, epoch milliseconds): nothing may trust it, or remember it, longer. */
  expiresAt: number;
}

/** How one trusted issuer's keys stand, for readiness (`/health/ready`). */
export interface IssuerKeyStatus {
  issuer: string;
  /** `file`: a local JWKS file, always usable. Otherwise see `KeyState`. */
  keys: KeyState | 'file';
}

export interface JwtVerifier {
  verify(token: string): Promise<Principal>;
  /** Each trusted issuer's keys; absent on verifiers that hold no keys of their own (test doubles). */
  keyStatus?(): Promise<IssuerKeyStatus[]>;
}

export { tenantIdPattern };

function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'Token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `Token claim "${error.claim}" is invalid`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'Token algorithm is not allowed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'Token was not signed by a known key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'Token signature is invalid';
  return 'Token is invalid';
}

function refusal(error: unknown) {
  if (error instanceof IdentityProviderUnavailableError) {
    return requestError('AUTH_UNAVAILABLE', 'The identity provider cannot be reached to check this token');
  }
  return requestError('UNAUTHENTICATED', describeFailure(error));
}

type KeySetOptions = Pick<JwtConfig, 'jwksCooldownSeconds' | 'jwksMaxAgeSeconds' | 'jwksStaleIfErrorSeconds'>;

interface IssuerKeys {
  getKey: JWTVerifyGetKey;
  state(): Promise<IssuerKeyStatus['keys']>;
}

async function keysFor(
  { issuer, keys }: TrustedIssuer,
  options: KeySetOptions,
  logger?: Logger,
): Promise<IssuerKeys> {
  if ('jwksFile' in keys) {
    const jwks = JSON.parse(await readFile(keys.jwksFile, 'utf8')) as JSONWebKeySet;
    return { getKey: createLocalJWKSet(jwks), state: async () => 'file' };
  }
  const remote = createRemoteJwks({
    ...('jwksUrl' in keys ? { url: new URL(keys.jwksUrl) } : { discoverFrom: issuer }),
    cooldownMs: options.jwksCooldownSeconds * 1000,
    maxAgeMs: options.jwksMaxAgeSeconds * 1000,
    staleIfErrorMs: options.jwksStaleIfErrorSeconds * 1000,
    logger: logger?.child({ issuer }),
  });
  return { getKey: remote, state: () => remote.state() };
}

/** The issuer a token names, read before its signature is checked: it only picks whose keys check it. */
function claimedIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : undefined;
  } catch (error) {
    throw refusal(error);
  }
}

/**
 * Verifies tokens from every trusted issuer. A token is checked against the
 * issuer its `iss` names and only that one: its keys, its audience, its
 * claim mapping. So a key of issuer B never verifies a token that says it
 * is A's, even with the same `kid`.
 */
export async function createJwtVerifier(
  config: Omit<JwtConfig, 'cache'>,
  options: { logger?: Logger } = {},
): Promise<JwtVerifier> {
  const issuers = new Map(
    await Promise.all(
      config.issuers.map(
        async (trusted) =>
          [trusted.issuer, { trusted, ...(await keysFor(trusted, config, options.logger)) }] as const,
      ),
    ),
  );
  return {
    async verify(token) {
      const issuer = issuers.get(claimedIssuer(token) ?? '');
      if (!issuer) throw requestError('UNAUTHENTICATED', 'Token claim "iss" is invalid');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, issuer.getKey, {
          issuer: issuer.trusted.issuer,
          audience: [...issuer.trusted.audience],
          algorithms: config.algorithms,
          clockTolerance: config.clockToleranceSeconds,
          requiredClaims: ['exp', 'iss', 'aud'],
        }));
      } catch (error) {
        throw refusal(error);
      }
      return principalFrom(payload, issuer.trusted.claims, token);
    },
    keyStatus: () =>
      Promise.all(
        [...issuers.values()].map(async ({ trusted, state }) => ({
          issuer: trusted.issuer,
          keys: await state(),
        })),
      ),
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

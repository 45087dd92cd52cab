import { randomUUID, type webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/**
 * The development identity provider: one ES256 key under DATA_DIR, its
 * public half written as a JWKS file the services verify against. Production
 * never uses this (configuration requires JWT_JWKS_URL there).
 */
export const DEV_ISSUER = 'quarry-dev';
export const DEV_AUDIENCE = 'quarry';
const ALGORITHM = 'ES256';

export interface DevSigningKey {
  kid: string;
  privateKey: webcrypto.CryptoKey;
  jwksPath: string;
}

export async function ensureDevSigningKey(dataDir: string): Promise<DevSigningKey> {
  const directory = join(dataDir, 'dev-keys');
  const privatePath = join(directory, 'signing-key.json');
  const jwksPath = join(directory, 'jwks.json');
  await mkdir(directory, { recursive: true });
  let privateJwk: JWK;
  try {
    privateJwk = JSON.parse(await readFile(privatePath, 'utf8')) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    const kid = randomUUID();
    privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALGORITHM, use: 'sig' };
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: 'sig' };
    await writeFile(jwksPath, `${JSON.stringify({ keys: [publicJwk] }, null, 2)}\n`);
    // Written last and exclusively: a concurrent first start either wins or reads the winner's key.
    try {
      await writeFile(privatePath, JSON.stringify(privateJwk), { mode: 0o600, flag: 'wx' });
    } catch (raceError) {
      if ((raceError as NodeJS.ErrnoException).code !== 'EEXIST') throw raceError;
      return ensureDevSigningKey(dataDir);
    }
  }
  if (!privateJwk.kid) throw new Error(`${privatePath} has no kid`);
  const privateKey = (await importJWK(privateJwk, ALGORITHM)) as webcrypto.CryptoKey;
  return { kid: privateJwk.kid, privateKey, jwksPath };
}

export interface DevTokenOptions {
  tenantId: string;
  scopes?: readonly string[];
  subject?: string;
  /** jose duration such as `1h` or `30m`. */
  ttl?: string;
  partner?: boolean;
  /** Rate-limit tier claim; absent means `standard`. */
  tier?: string;
  issuer?: string;
  audience?: string;
}

export function mintDevToken(key: DevSigningKey, options: DevTokenOptions): Promise<string> {
  const claims: Record<string, unknown> = {
    tenant_id: options.tenantId,
    scope: (options.scopes ?? ['documents:read', 'documents:write']).join(' '),
  };
  if (options.partner) claims.client_type = 'partner';
  if (options.tier) claims.tier = options.tier;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? DEV_ISSUER)
    .setAudience(options.audience ?? DEV_AUDIENCE)
    .setSubject(options.subject ?? `dev-user@${options.tenantId}`)
    .setIssuedAt()
    .setExpirationTime(options.ttl ?? '1h')
    .sign(key.privateKey);
}

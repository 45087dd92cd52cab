import { randomUUID, type webcrypto } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
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

function devKeyPaths(dataDir: string) {
  const directory = join(dataDir, 'dev-keys');
  return {
    directory,
    privatePath: join(directory, 'signing-key.json'),
    jwksPath: join(directory, 'jwks.json'),
  };
}

async function signingKeyOf(privateJwk: JWK, privatePath: string, jwksPath: string): Promise<DevSigningKey> {
  if (!privateJwk.kid) throw new Error(`${privatePath} has no kid`);
  const privateKey = (await importJWK(privateJwk, ALGORITHM)) as webcrypto.CryptoKey;
  return { kid: privateJwk.kid, privateKey, jwksPath };
}

/** The key under DATA_DIR, created on first use; what a starting service calls. */
export async function ensureDevSigningKey(dataDir: string): Promise<DevSigningKey> {
  const { directory, privatePath, jwksPath } = devKeyPaths(dataDir);
  await mkdir(directory, { recursive: true });
  const privateJwk = await readOrCreatePrivateKey(privatePath);
  const key = await signingKeyOf(privateJwk, privatePath, jwksPath);
  await writeJwksFor(jwksPath, privateJwk);
  return key;
}

export class DevSigningKeyMissingError extends Error {
  override name = 'DevSigningKeyMissingError';
  readonly isDevSigningKeyMissing = true;
}

/**
 * The key under DATA_DIR, never a new one: a key the running services do not
 * hold would sign tokens every one of them refuses.
 */
export async function readDevSigningKey(dataDir: string): Promise<DevSigningKey> {
  const { privatePath, jwksPath } = devKeyPaths(dataDir);
  let text: string;
  try {
    text = await readFile(privatePath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new DevSigningKeyMissingError(
      `no development signing key in ${dataDir} (${privatePath} is missing): start Quarry once with this DATA_DIR (npm start) to create it, or set DATA_DIR to where it runs`,
    );
  }
  return signingKeyOf(JSON.parse(text) as JWK, privatePath, jwksPath);
}

async function readOrCreatePrivateKey(path: string): Promise<JWK> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: ALGORITHM, use: 'sig' };
  // Written whole to a file of its own, then linked into place: the link fails if a concurrent first
  // start got there first (whose key then wins), and no reader ever sees half a key.
  const temporary = `${path}.${randomUUID()}`;
  await writeFile(temporary, JSON.stringify(jwk), { mode: 0o600 });
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporary);
  }
  return JSON.parse(await readFile(path, 'utf8')) as JWK;
}

/**
 * The JWKS is derived from the stored key on every start, so it always
 * verifies that key's tokens: one written beside a key that lost a race,
 * or before a crash, would verify none.
 */
async function writeJwksFor(path: string, privateJwk: JWK) {
  const { d: _secret, ...publicJwk } = privateJwk;
  const text = `${JSON.stringify({ keys: [publicJwk] }, null, 2)}\n`;
  if ((await readFile(path, 'utf8').catch(() => undefined)) === text) return;
  const temporary = `${path}.${randomUUID()}`;
  await writeFile(temporary, text);
  await rename(temporary, path);
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

import { resolve } from 'node:path';
import {
  DEV_AUDIENCE,
  DEV_ISSUER,
  type DevSigningKey,
  ensureDevSigningKey,
} from '../server/auth/dev-keys.ts';

/**
 * Outside production, a missing identity provider means the development one:
 * the signing key under DATA_DIR, whose JWKS file the services verify
 * against. Explicit JWT_* variables always win.
 */
export async function withDevelopmentDefaults(
  env: Record<string, string | undefined>,
): Promise<{ env: Record<string, string | undefined>; devKey: DevSigningKey | undefined }> {
  if (env.NODE_ENV === 'production' || env.JWT_JWKS_URL || env.JWT_JWKS_FILE)
    return { env, devKey: undefined };
  const devKey = await ensureDevSigningKey(resolve(env.DATA_DIR || './data'));
  return {
    devKey,
    env: { JWT_JWKS_FILE: devKey.jwksPath, JWT_ISSUER: DEV_ISSUER, JWT_AUDIENCE: DEV_AUDIENCE, ...env },
  };
}

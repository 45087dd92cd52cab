import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { expect, it } from 'vitest';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevSigningKey, mintDevToken } from '../../server/auth/dev-keys.ts';

it('leaves a JWKS that verifies the stored key, however many first starts race (npm start beside npm run token)', async () => {
  for (let round = 0; round < 10; round += 1) {
    const dataDir = await mkdtemp(join(tmpdir(), 'quarry-dev-keys-'));
    try {
      const racers = await Promise.all([1, 2, 3].map(() => ensureDevSigningKey(dataDir)));
      const later = await ensureDevSigningKey(dataDir);
      expect(new Set([...racers, later].map((key) => key.kid)).size, `round ${round}`).toBe(1);
      const jwks = JSON.parse(await readFile(later.jwksPath, 'utf8'));
      expect(JSON.stringify(jwks)).not.toContain('"d"');
      const token = await mintDevToken(later, { tenantId: 'acme' });
      await jwtVerify(token, createLocalJWKSet(jwks), { issuer: DEV_ISSUER, audience: DEV_AUDIENCE });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
});

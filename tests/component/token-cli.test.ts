import { readdir, readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { ttlOption } from '../../cli/ttl-option.ts';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevSigningKey } from '../../server/auth/dev-keys.ts';
import { runCli, useDataDir } from '../helpers/cli-process.ts';

// One start of Node takes seconds on a busy 2-core machine.
const cliTimeoutMs = 60_000;
const dataDir = useDataDir('quarry-token');

const token = (...args: string[]) =>
  runCli('token.ts', ['--tenant', 'acme', ...args], { ...process.env, DATA_DIR: dataDir() });

describe('--ttl', () => {
  it.each(['15m', '1h', '90s', '1.5h', '7d', '2 days'])('accepts %s', (value) => {
    expect(ttlOption(value)).toBe(value);
  });

  it.each(['0', '0h', '-1h', '-5m', 'abc', '1', '1h ago', ''])('refuses %j', (value) => {
    expect(() => ttlOption(value)).toThrow(InvalidArgumentError);
  });

  it(
    'refuses 0 in one line, without a stack, and prints no token',
    async () => {
      await ensureDevSigningKey(dataDir());
      const result = await token('--ttl', '0');
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr.trim().split('\n')).toEqual([
        "error: option '--ttl <duration>' argument '0' is invalid. the lifetime must be above zero, with a unit, such as 90s, 15m, 1h or 7d.",
      ]);
    },
    cliTimeoutMs,
  );
});

it(
  'signs with the key the services use, for the lifetime asked',
  async () => {
    const key = await ensureDevSigningKey(dataDir());
    const result = await token('--ttl', '15m');
    expect(result.code).toBe(0);
    const jwks = createLocalJWKSet(JSON.parse(await readFile(key.jwksPath, 'utf8')));
    const { payload } = await jwtVerify(result.stdout.trim(), jwks, {
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
    });
    expect(payload).toMatchObject({ tenant_id: 'acme' });
    expect((payload.exp as number) - (payload.iat as number)).toBe(15 * 60);
  },
  cliTimeoutMs,
);

it(
  'says so when DATA_DIR has no key, instead of making one whose tokens every service refuses',
  async () => {
    const result = await token();
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`token: no development signing key in ${dataDir()}`);
    expect(result.stderr).toContain('npm start');
    expect(await readdir(dataDir())).toEqual([]);
    expect(() => decodeJwt(result.stdout)).toThrow();
  },
  cliTimeoutMs,
);

it(
  'with --create-key makes the key first, as the compose dev-keys service does before any service starts',
  async () => {
    const result = await token('--create-key');
    expect(result.code).toBe(0);
    const key = await ensureDevSigningKey(dataDir());
    const jwks = createLocalJWKSet(JSON.parse(await readFile(key.jwksPath, 'utf8')));
    await jwtVerify(result.stdout.trim(), jwks, { issuer: DEV_ISSUER, audience: DEV_AUDIENCE });
  },
  cliTimeoutMs,
);

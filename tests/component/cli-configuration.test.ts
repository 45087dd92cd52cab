import { describe, expect, it, vi } from 'vitest';
import { runCli, useDataDir } from '../helpers/cli-process.ts';

// Each case starts Node and opens the stores: seconds on a busy 2-core machine.
vi.setConfig({ testTimeout: 120_000 });
const dataDir = useDataDir('quarry-cli-configuration');

/**
 * A command-line tool run with nothing but `variables`: production, so no development identity provider
 * fills in JWT_*, and no CURSOR_SECRET, which only the search service needs there.
 */
const cli = (file: string, args: string[], variables: Record<string, string> = {}) =>
  runCli(file, args, { NODE_ENV: 'production', DATA_DIR: dataDir(), ...variables });

const erase = ['erase', 'acme', '--requested-by', 'cli-configuration-test', '--yes'];

describe('a command-line tool reads only the concerns it uses', () => {
  it.each([
    { file: 'dead-letters.ts', args: ['list'], says: '0 of 0 dead letters' },
    { file: 'tenant.ts', args: ['export', 'acme', '-'], says: 'exported 0 documents of acme' },
    { file: 'tenant.ts', args: erase, says: 'tenant erased' },
  ])('$file $args runs without any JWT_* variable or CURSOR_SECRET', async ({ file, args, says }) => {
    const result = await cli(file, args);
    // Progress goes to stderr, the erasure's audit log to stdout.
    expect(`${result.stderr}${result.stdout}`).toContain(says);
    expect(result.code).toBe(0);
  });

  it.each([
    { file: 'dead-letters.ts', args: ['list'], variable: 'MONGO_URL', value: 'http://mongo' },
    {
      file: 'import.ts',
      args: ['documents.jsonl', '--tenant', 'acme'],
      variable: 'MONGO_DATABASE',
      value: 'a.b',
    },
    { file: 'tenant.ts', args: ['export', 'acme', '-'], variable: 'MONGO_URL', value: 'http://mongo' },
    { file: 'tenant.ts', args: erase, variable: 'INDEXER_POLL_MS', value: '0' },
    { file: 'reindex.ts', args: [], variable: 'ELASTICSEARCH_URL', value: 'ftp://elasticsearch' },
    // Unset: the tool needs it, and says so as it would of a bad value.
    { file: 'es-setup.ts', args: [], variable: 'ELASTICSEARCH_URL', value: '' },
    { file: 'pq-build.ts', args: [], variable: 'LIMIT_MAX_DEPTH', value: '0' },
  ])(
    '$file $args names only the bad variable of a concern it uses: $variable',
    async ({ file, args, variable, value }) => {
      const result = await cli(file, args, { [variable]: value });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(new RegExp(`^Invalid configuration:\\n  ${variable}: [^\\n]+$`));
    },
  );
});

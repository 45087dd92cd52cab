import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { manifestPath } from '../../schema/operations.ts';

const run = promisify(execFile);
// One start of Node with graphql and federation takes seconds on a busy 2-core machine.
const cliTimeoutMs = 60_000;

it(
  'exits 1 naming the file and operation the gateway would refuse, and leaves the manifest as it was',
  async () => {
    const before = { text: readFileSync(manifestPath, 'utf8'), mtimeMs: statSync(manifestPath).mtimeMs };
    // SearchPage is four levels deep: with the gateway configured for three, its reload would refuse it.
    const result = await run(process.execPath, ['cli/pq-build.ts'], {
      env: { ...process.env, LIMIT_MAX_DEPTH: '3' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'pq:build: schema/operations/SearchPage.graphql: operation SearchPage: Query depth limit of 3 exceeded, found 4. (nothing written)',
    );
    expect({ text: readFileSync(manifestPath, 'utf8'), mtimeMs: statSync(manifestPath).mtimeMs }).toEqual(
      before,
    );
  },
  cliTimeoutMs,
);

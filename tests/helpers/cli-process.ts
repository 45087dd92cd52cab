import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach } from 'vitest';

const execute = promisify(execFile);
/** One start of Node with the stores takes seconds on a busy 2-core machine; past this the CLI is killed. */
const cliTimeoutMs = 60_000;

/** A DATA_DIR of its own for each test of the file, removed after it; call it to read the current one. */
export function useDataDir(prefix: string): () => string {
  let dataDir = '';
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  return () => dataDir;
}

/** Runs `cli/<file>` to its end with exactly `env`: its exit code and output, whether it failed or not. */
export async function runCli(file: string, args: readonly string[], env: NodeJS.ProcessEnv) {
  return execute(process.execPath, [`cli/${file}`, ...args], {
    env,
    timeout: cliTimeoutMs,
    killSignal: 'SIGKILL',
  }).then(
    (result) => ({ code: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

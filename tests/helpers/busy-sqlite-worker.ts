import { existsSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { serveWorkerCalls } from '../../server/embedded/worker-host.ts';

/**
 * A worker for the pool's tests: `spin` runs one SQLite statement that takes
 * minutes inside native code, like a pathological search, where no
 * JavaScript runs that could notice a request to stop; `spinUntil` keeps
 * its worker busy until the test creates a file.
 */
export type BusyWorkerApi = {
  echo(value: unknown): Promise<unknown>;
  /** Answers `value`, then creates the file `marker` once the answer has been handed to the pipe. */
  echoAndMark(value: unknown, marker: string): Promise<unknown>;
  fail(message: string): Promise<never>;
  pid(): Promise<number>;
  spin(): Promise<number>;
  /** Busy until the file `marker` exists, then answers this process's id. */
  spinUntil(marker: string): Promise<number>;
};

serveWorkerCalls((prefix: string) => {
  const db = new DatabaseSync(':memory:');
  const spin = db.prepare(
    'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000) SELECT count(*) AS n FROM c',
  );
  const api: BusyWorkerApi = {
    echo: async (value) => ({ prefix, value }),
    echoAndMark: async (value, marker) => {
      // The reply is sent as this promise settles, within this turn; the check phase comes after it.
      setImmediate(() => writeFileSync(marker, ''));
      return { prefix, value };
    },
    fail: async (message) => {
      throw new RangeError(message);
    },
    pid: async () => process.pid,
    spin: async () => (spin.get() as { n: number }).n,
    spinUntil: async (marker) => {
      while (!existsSync(marker)) {}
      return process.pid;
    },
  };
  return api;
});

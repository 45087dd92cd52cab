import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

/** Processes whose environment carries `marker`: the bench's children inherit it. */
async function processesMarked(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environment = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (environment.includes(marker)) found.push(Number(entry));
  }
  return found;
}

let out: string | undefined;
afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

// Starts the whole bench: it runs under `npm run test:bench` (vitest.bench.config.ts), not in the default suite.
it('stops every process it started when it is stopped itself (a CI timeout, Ctrl-C)', async () => {
  out = await mkdtemp(join(tmpdir(), 'quarry-bench-interrupted-'));
  const marker = `QUARRY_BENCH_MARKER=${process.pid}-${Date.now()}`;
  const [name, value] = marker.split('=') as [string, string];
  const bench = spawn(
    process.execPath,
    [
      'bench/run.ts',
      ...['--documents', '100', '--duration', '5', '--fixed-duration', '0', '--warmup', '0.2'],
      ...['--scenarios', 'search', '--gateways', 'ceiling', '--out', out],
    ],
    { env: { ...process.env, [name]: value }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = once(bench, 'exit');
  let stderr = '';
  try {
    // Once the load is running, every child is up: Redis, both subgraphs, the indexer, the runner, a gateway.
    await new Promise<void>((resolve, reject) => {
      bench.stderr.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes('search / ceiling')) resolve();
      });
      bench.once('exit', () => reject(new Error(`bench exited early:\n${stderr}`)));
    });
    expect((await processesMarked(marker)).length).toBeGreaterThanOrEqual(5);
    bench.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(143);
    expect(await processesMarked(marker)).toEqual([]);
  } finally {
    if (bench.exitCode === null) bench.kill('SIGKILL');
  }
}, 120_000);

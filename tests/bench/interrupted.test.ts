import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

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

/** The bench's work directories (`quarry-bench-*` in the temporary directory), by name. */
async function benchWorkDirectories(): Promise<string[]> {
  return (await readdir(tmpdir())).filter(
    (entry) => entry.startsWith('quarry-bench-') && !entry.includes('interrupted'),
  );
}

let out: string | undefined;
afterEach(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

// Starts the whole bench: it runs under `npm run test:bench` (vitest.bench.config.ts), not in the default suite.
describe.each([
  { signal: 'SIGTERM' as const, how: 'stopped (a CI timeout, Ctrl-C)', code: 143 },
  { signal: 'SIGKILL' as const, how: 'killed outright (the OOM killer, a runner that gives up)', code: null },
])('when the bench is $signal', ({ signal, how, code }) => {
  it(`stops every process it started when it is ${how}`, async () => {
    out = await mkdtemp(join(tmpdir(), 'quarry-bench-interrupted-'));
    const before = await benchWorkDirectories();
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
      bench.kill(signal);
      const [exitCode] = await exited;
      expect(exitCode).toBe(code);
      // Killed outright, the bench stops nothing itself: the kernel signals each child as its parent dies.
      await expect.poll(() => processesMarked(marker), { timeout: 30_000, interval: 100 }).toEqual([]);
      // Stopped, the bench removes its work directory; killed outright it cannot, and this test does.
      const left = (await benchWorkDirectories()).filter((directory) => !before.includes(directory));
      if (signal === 'SIGTERM') expect(left).toEqual([]);
      for (const directory of left) await rm(join(tmpdir(), directory), { recursive: true, force: true });
    } finally {
      if (bench.exitCode === null) bench.kill('SIGKILL');
    }
  }, 120_000);
});

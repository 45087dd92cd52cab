import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ping, startTestRedis } from '../helpers/redis-server.ts';

describe('startTestRedis', () => {
  it('fails naming the missing binary and how to install it, not with a PING timeout', async () => {
    await expect(startTestRedis({ command: 'redis-server-that-is-not-installed' })).rejects.toThrow(
      'redis-server-that-is-not-installed is not installed: install it with: apt-get install -y redis-server',
    );
  });

  it('stops with the test process that started it, even one killed outright (a test timeout, the OOM killer)', async () => {
    const helper = new URL('../helpers/redis-server.ts', import.meta.url).href;
    // Stands in for a test worker: starts a server, reports its port, and waits to be killed.
    const worker = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { startTestRedis } = await import(${JSON.stringify(helper)});
         const redis = await startTestRedis();
         process.send(redis.port);`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    try {
      const [port] = (await Promise.race([
        once(worker, 'message'),
        once(worker, 'exit').then(([code]) => {
          throw new Error(`the stand-in worker exited (${code}) before its server answered`);
        }),
      ])) as [number];
      expect(await ping(port)).toBe(true);
      worker.kill('SIGKILL');
      await once(worker, 'exit');
      // The kernel kills the server as its parent dies; the bound covers a starved machine's scheduling.
      await expect.poll(() => ping(port), { timeout: 30_000, interval: 100 }).toBe(false);
    } finally {
      worker.kill('SIGKILL');
    }
  }, 60_000);
});

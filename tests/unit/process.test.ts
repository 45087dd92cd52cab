import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const processModule = fileURLToPath(new URL('../../server/process.ts', import.meta.url));

it('drains on the first SIGTERM and exits at once on the second, even while the drain hangs', async () => {
  // A service whose stop never finishes.
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { runMain } from ${JSON.stringify(processModule)};
       runMain(async () => { console.log('ready'); return () => new Promise(() => {}); });
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit');
  try {
    await once(child.stdout, 'data');
    child.kill('SIGTERM');
    await sleep(300);
    expect(child.exitCode).toBeNull();
    expect(stderr).toContain('SIGTERM received, draining');

    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(1);
    expect(stderr).toContain('received again, exiting without waiting');
  } finally {
    // A failed run must not leave the hung service behind.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

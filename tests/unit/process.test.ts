import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';

const processModule = fileURLToPath(new URL('../../server/process.ts', import.meta.url));

/** A service run by runMain, from `main`'s source; killed when the test ends, however it ends. */
function service(mainSource: string) {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { runMain } from ${JSON.stringify(processModule)};
       runMain(${mainSource});
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  ) as ChildProcessWithoutNullStreams;
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  const seen = (text: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!output.includes(text)) return;
        child.stdout.off('data', append);
        child.stderr.off('data', append);
        resolve();
      };
      const append = () => check();
      child.stdout.on('data', append);
      child.stderr.on('data', append);
      check();
    });
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  // 'close', not 'exit': by then everything the child wrote has been read.
  return { child, seen, exited: once(child, 'close'), output: () => output };
}

it('drains on the first SIGTERM and exits at once on the second, even while the drain hangs', async () => {
  // A service whose stop never finishes; it says when the drain has begun.
  const { child, seen, exited, output } = service(
    `async () => { console.log('ready'); return () => { console.log('stopping'); return new Promise(() => {}); }; }`,
  );
  // SIGTERM the moment it is ready: the handler must already be installed.
  await seen('ready');
  child.kill('SIGTERM');
  // Two pipes: either line may arrive first.
  await seen('SIGTERM received, draining');
  await seen('stopping');
  expect(child.exitCode).toBeNull();

  child.kill('SIGTERM');
  const [code] = await exited;
  expect(code).toBe(1);
  expect(output()).toContain('received again, exiting without waiting');
});

it('a SIGTERM that arrives while the service starts stops it once it has started', async () => {
  // main waits for a line on stdin, so the signal certainly arrives mid-start.
  const { child, seen, exited, output } = service(
    `async () => {
       console.log('starting');
       await new Promise((resolve) => process.stdin.once('data', resolve));
       console.log('ready');
       return async () => { console.log('stopped'); };
     }`,
  );
  await seen('starting');
  child.kill('SIGTERM');
  await seen('SIGTERM received, draining');
  child.stdin.write('go\n');
  const [code] = await exited;
  expect(code).toBe(0);
  expect(output()).toMatch(/ready\n(.|\n)*stopped/);
});

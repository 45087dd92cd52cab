import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuMs, makeWorkDir, processTreeCpuMs } from '../../bench/processes.ts';

/**
 * A parent that idles while its child burns 400 ms of CPU, as the search
 * subgraph does while its worker processes run queries. Resolves once the
 * child has burned it; the child then stays alive if `childStays`.
 */
async function parentOfBusyChild(childStays: boolean) {
  const burn = `const end = Date.now() + 400; while (Date.now() < end); console.log('burned');${childStays ? ' setInterval(() => {}, 1000);' : ''}`;
  const parent = spawn(
    process.execPath,
    [
      '-e',
      `require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(burn)}], { stdio: 'inherit' })
         .on('exit', () => console.log('reaped'));
       setInterval(() => {}, 1000);`,
    ],
    // Its own process group, so the test can end the child with it.
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  const awaited = childStays ? 'burned' : 'reaped';
  let output = '';
  await new Promise<void>((resolve, reject) => {
    parent.on('exit', () => {
      try {
        process.kill(-parent.pid!, 'SIGKILL');
      } catch {}
      reject(new Error(`the parent ended before its child ${awaited}`));
    });
    parent.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes(awaited)) resolve();
    });
  });
  return parent;
}

describe('process CPU', () => {
  for (const childStays of [true, false]) {
    it(`counts the CPU of a process's ${childStays ? 'running' : 'ended'} child, which its own figure leaves out`, async () => {
      const parent = await parentOfBusyChild(childStays);
      try {
        expect(processTreeCpuMs(parent.pid!)).toBeGreaterThan(cpuMs(parent.pid!) + 200);
      } finally {
        process.kill(-parent.pid!, 'SIGKILL');
      }
    }, 30_000);
  }
});

describe('makeWorkDir', () => {
  it('removes the work directories of runs killed outright, and only those', () => {
    const base = mkdtempSync(join(tmpdir(), 'quarry-work-dirs-'));
    try {
      const ownedBy = (name: string, pid?: number) => {
        mkdirSync(join(base, name));
        if (pid !== undefined) writeFileSync(join(base, name, 'owner.pid'), String(pid));
      };
      // A process that has exited: its pid names no running process.
      ownedBy('quarry-bench-killed', spawnSync(process.execPath, ['-e', '']).pid);
      ownedBy('quarry-bench-running', process.pid);
      ownedBy('quarry-bench-unowned');
      ownedBy('other-killed', spawnSync(process.execPath, ['-e', '']).pid);

      const made = makeWorkDir('quarry-bench-', base);

      expect(readFileSync(join(made, 'owner.pid'), 'utf8')).toBe(String(process.pid));
      expect(existsSync(join(base, 'quarry-bench-killed'))).toBe(false);
      expect(readdirSync(base).sort()).toEqual(
        ['other-killed', 'quarry-bench-running', 'quarry-bench-unowned', made.slice(base.length + 1)].sort(),
      );
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

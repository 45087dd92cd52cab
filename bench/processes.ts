import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Everything the bench starts is a child on loopback; these helpers start, watch and stop them. */

const ownerFile = 'owner.pid';

/**
 * A fresh work directory under `base`, its owner's pid recorded in it, once
 * those of earlier runs whose owner is gone are removed: a run killed
 * outright (SIGKILL, the OOM killer, a CI job's timeout) runs no clean-up,
 * and each leaves its seeded database, hundreds of MiB, behind.
 * Hand-written: temporary-directory libraries remove theirs on exit, which a SIGKILL skips.
 */
export function makeWorkDir(prefix: string, base = tmpdir()): string {
  for (const name of readdirSync(base)) {
    if (!name.startsWith(prefix)) continue;
    const directory = join(base, name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(directory, ownerFile), 'utf8'));
    } catch {
      continue; // No owner recorded: not one of these runs' to judge.
    }
    if (!isRunning(owner)) rmSync(directory, { recursive: true, force: true });
  }
  const directory = mkdtempSync(join(base, prefix));
  writeFileSync(join(directory, ownerFile), String(process.pid));
  return directory;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** util-linux's setpriv, on every Linux this runs on; absent elsewhere. */
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));

/**
 * `command` with `args`, run so that the kernel kills it when the process
 * that started it dies, however it dies: SIGKILL, a test runner's timeout,
 * the OOM killer. `setpriv --pdeathsig` sets the parent-death signal and
 * execs the command under the same pid, so signals and `exitCode` are the
 * command's own. Without setpriv the command runs as given, and only an
 * orderly exit of its parent stops it.
 */
export function tiedToParent(command: string, args: readonly string[]): [string, string[]] {
  return setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, [...args]];
}

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  /** For IPC children: resolves on their first `{ type: 'ready' }` message. */
  ready: Promise<void>;
  /** Sends `message` over IPC and resolves with the first reply of the same type. */
  ask<T>(message: { type: string; [key: string]: unknown }, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

export interface StartChildOptions {
  name: string;
  /** A .ts script run by this Node, or with `command` any other executable. */
  script?: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  /** stdout and stderr go here, so a chatty child never blocks on a full pipe. */
  logFile: string;
  /** Opens an IPC channel (for .ts scripts only). */
  ipc?: boolean;
  /** Node flags for .ts scripts, such as `--cpu-prof`. */
  nodeArgs?: string[];
}

export function startChild(options: StartChildOptions): Child {
  const log = openSync(options.logFile, 'a');
  const env = { ...process.env, ...options.env };
  const [command, args] = options.script
    ? tiedToParent(process.execPath, [...(options.nodeArgs ?? []), options.script, ...(options.args ?? [])])
    : tiedToParent(options.command ?? 'false', options.args ?? []);
  const child = spawn(command, args, {
    env,
    stdio: ['ignore', log, log, ...(options.ipc ? ['ipc' as const] : [])],
  });
  if (child.pid === undefined) throw new Error(`${options.name} did not start`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = options.ipc
    ? new Promise<void>((resolve, reject) => {
        const onMessage = (message: { type?: string }) => {
          if (message?.type !== 'ready') return;
          child.off('message', onMessage);
          resolve();
        };
        child.on('message', onMessage);
        void exited.then(() => reject(new Error(`${options.name} exited before it was ready`)));
      })
    : Promise.resolve();
  // A child that never becomes ready is reported by whoever awaits `ready`, not as an unhandled rejection.
  ready.catch(() => {});
  return {
    name: options.name,
    process: child,
    pid: child.pid,
    ready,
    ask<T>(message: { type: string; [key: string]: unknown }, timeoutMs = 5000) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${options.name} did not answer ${message.type}`)),
          timeoutMs,
        );
        const onMessage = (reply: { type?: string }) => {
          if (reply?.type !== message.type) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(reply as T);
        };
        child.on('message', onMessage);
        child.send(message);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Polls until `check` resolves true, failing after `timeoutMs` or when the child exits. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs = 60_000, child }: { timeoutMs?: number; child?: Child } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.process.exitCode !== null) {
      throw new Error(`${what}: process exited with code ${child.process.exitCode}`);
    }
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

function statusField(pid: number, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident memory now, and the high-water mark since the process started (MiB). */
export const rssMb = (pid: number) => statusField(pid, 'VmRSS');
export const peakRssMb = (pid: number) => statusField(pid, 'VmHWM');

/** The fields of `/proc/<pid>/stat` after the command name, which is in parentheses and may contain spaces. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const ticksToMs = (ticks: number) => (ticks * 1000) / 100; // USER_HZ is 100 on Linux.

/** User plus system CPU time the process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  return fields ? ticksToMs(Number(fields[11]) + Number(fields[12])) : 0;
}

/** Every live process's children, by parent pid, from `/proc`. */
function liveChildren(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const child = Number(entry);
    const parent = Number.isInteger(child) ? Number(statFields(child)?.[1]) : Number.NaN;
    if (Number.isInteger(parent)) children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  return children;
}

/** The live children of a process, by pid. */
export const childrenOf = (pid: number): number[] => liveChildren().get(pid) ?? [];

/**
 * CPU time of a process and everything it started, in milliseconds: its own,
 * its children's that have ended (cutime and cstime), and its live
 * descendants'. The embedded search runs its queries in worker processes,
 * which a subgraph's own figure would leave out.
 */
export function processTreeCpuMs(pid: number): number {
  const children = liveChildren();
  const treeMs = (root: number): number => {
    const fields = statFields(root);
    if (!fields) return 0;
    const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [
      number,
      number,
      number,
      number,
    ];
    return (
      ticksToMs(utime + stime + cutime + cstime) +
      (children.get(root) ?? []).reduce((sum, child) => sum + treeMs(child), 0)
    );
  };
  return treeMs(pid);
}

/** Samples a process's resident memory every `intervalMs` until stopped; returns the maximum (MiB). */
export function sampleRss(pid: number, intervalMs = 100): { stop(): number } {
  let max = rssMb(pid);
  const timer = setInterval(() => {
    max = Math.max(max, rssMb(pid));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, rssMb(pid));
    },
  };
}

/**
 * Rounds per second of a fixed CPU workload (hashing and JSON, the stuff of
 * a gateway) in this process, while nothing else of the bench runs. A VM
 * whose neighbours take its CPU mid-run shows here, so a run that slowed
 * down is flagged instead of read as one gateway being slower than another.
 */
export function machineSpeed(durationMs = 500): number {
  const payload = JSON.stringify({
    hits: Array.from({ length: 200 }, (_, i) => ({ id: `doc-${i}`, score: i / 7 })),
  });
  const started = performance.now();
  let rounds = 0;
  while (performance.now() - started < durationMs) {
    createHash('sha256')
      .update(JSON.stringify(JSON.parse(payload)))
      .digest('hex');
    rounds += 1;
  }
  return rounds / ((performance.now() - started) / 1000);
}

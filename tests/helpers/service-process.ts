import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { tiedToParent } from '../../bench/processes.ts';

/** How long a process may take to answer `/health/live` after it starts (two minutes were short at a load of 40). */
const startBoundMs = 300_000;

export interface ServiceProcess {
  child: ChildProcess;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

/**
 * One Quarry service as its own process (its production entry file, run by
 * this Node), resolved once `healthUrl` answers. A process that exits or
 * does not answer in time is killed and reported with the end of its output.
 * The caller kills it; `killAllOnExit` covers a run that ends first, and
 * the kernel one killed outright (`tiedToParent`).
 */
export async function startServiceProcess(options: {
  name: string;
  entry: string;
  /** Arguments after the entry file. */
  args?: readonly string[];
  env: Record<string, string>;
  healthUrl: string;
}): Promise<ServiceProcess> {
  const child = spawn(...tiedToParent(process.execPath, [options.entry, ...(options.args ?? [])]), {
    env: options.env,
    // An IPC channel, over which a test may switch a fault in a service of its own (a production entry ignores it).
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // The last of its output (log lines at LOG_LEVEL, and anything it printed on failing), for the error below.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const service: ServiceProcess = {
    child,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
  const deadline = performance.now() + startBoundMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) break;
    const live = await fetch(options.healthUrl).catch(() => undefined);
    if (live?.ok) return service;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`${options.name} did not start (exit ${child.exitCode}): ${output}`);
}

/** Kills every process in `children` if this process exits first, so no run leaves services behind. */
export function killAllOnExit(children: () => Iterable<ChildProcess>, also?: () => void): () => void {
  const killAll = () => {
    for (const child of children()) child.kill('SIGKILL');
    also?.();
  };
  process.once('exit', killAll);
  return () => process.off('exit', killAll);
}

import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BusyWorkerApi } from '../../tests/helpers/busy-sqlite-worker.ts';
import type { WorkerLoss } from '../observability/events.ts';
import {
  createWorkerPool,
  DeadlineExceededError,
  type WorkerPool,
  WorkersBusyError,
  workerRestartOf,
} from './worker-pool.ts';

const entry = new URL('../../tests/helpers/busy-sqlite-worker.ts', import.meta.url);
const deadlineMs = 300;
/** Generous: a loaded machine starts a Node process slowly, but never this slowly. */
const startupAllowanceMs = 10_000;

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('worker pool', () => {
  let pool: WorkerPool<BusyWorkerApi> | undefined;
  /** What the pool reported losing, in order (`onWorkerLost`, counted as a metric in production). */
  let lost: WorkerLoss[] = [];
  afterEach(async () => {
    await pool?.close();
    lost = [];
  });
  const open = (size: number, options: { deadlineMs?: number; queueTimeoutMs?: number } = {}) => {
    pool = createWorkerPool<BusyWorkerApi>({
      entry,
      input: 'in',
      size,
      deadlineMs,
      queueTimeoutMs: startupAllowanceMs,
      name: 'test',
      onWorkerLost: (reason) => lost.push(reason),
      ...options,
    });
    return pool;
  };

  it('answers calls with structured values and errors, on at most `size` workers started on demand', async () => {
    // No deadline in play here: a loaded machine may take longer than the short one to answer.
    const workers = open(2, { deadlineMs: startupAllowanceMs });
    expect(workers.size()).toBe(0);
    const at = new Date('2024-05-01T00:00:00.000Z');
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => workers.call('echo', { i, at })));
    expect(answers).toEqual(Array.from({ length: 6 }, (_, i) => ({ prefix: 'in', value: { i, at } })));
    expect(workers.size()).toBe(2);
    await expect(workers.call('fail', 'bad input')).rejects.toMatchObject({
      name: 'RangeError',
      message: 'bad input',
    });
  });

  it('starts every worker up front when asked, and is ready once they are', async () => {
    const workers = open(3);
    await workers.start();
    expect(workers.size()).toBe(3);
    const pids = await Promise.all([workers.call('pid'), workers.call('pid'), workers.call('pid')]);
    expect(new Set(pids).size).toBe(3);
  });

  it('kills a worker stuck in SQLite at its deadline, keeps the event loop free meanwhile, and replaces it', async () => {
    const workers = open(1);
    const stuckPid = await workers.call('pid');
    let longestGapMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - last);
      last = now;
    }, 10);
    try {
      const started = performance.now();
      await expect(workers.call('spin')).rejects.toBeInstanceOf(DeadlineExceededError);
      expect(performance.now() - started).toBeLessThan(deadlineMs * 3);
    } finally {
      clearInterval(ticker);
    }
    // The statement never reached JavaScript again, yet the caller's timers kept firing throughout.
    expect(longestGapMs).toBeLessThan(deadlineMs);
    // SIGKILL is immediate; the poll only waits for the operating system to reap the process.
    await vi.waitFor(() => expect(isAlive(stuckPid)).toBe(false), { timeout: startupAllowanceMs });
    const replacementPid = await workers.call('pid');
    expect(replacementPid).not.toBe(stuckPid);
    expect(workers.size()).toBe(1);
    expect(lost).toEqual(['deadline']);
  });

  it('answers a call whose reply came in time but was read late, because this event loop was busy', async () => {
    const workers = open(1);
    await vi.waitFor(() => workers.call('pid'), { timeout: startupAllowanceMs });
    const marker = join(await mkdtemp(join(tmpdir(), 'quarry-worker-pool-')), 'replied');
    const started = performance.now();
    const answer = workers.call('echoAndMark', 'in time', marker);
    // Busy, as a service is while it serialises a large response: the deadline passes with the reply unread.
    while (!existsSync(marker) || performance.now() - started < deadlineMs * 2) {}
    await expect(answer).resolves.toEqual({ prefix: 'in', value: 'in time' });
    await rm(dirname(marker), { recursive: true, force: true });
  });

  it('refuses a call that waited too long for a free worker, without running it', async () => {
    const workers = open(1, { queueTimeoutMs: deadlineMs / 3 });
    // Calls are refused until the worker has started; once it has, the pool keeps it.
    await vi.waitFor(() => workers.call('pid'), { timeout: startupAllowanceMs });
    const stuck = workers.call('spin');
    await expect(workers.call('echo', 'queued')).rejects.toBeInstanceOf(WorkersBusyError);
    await expect(stuck).rejects.toBeInstanceOf(DeadlineExceededError);
  });

  it('drops the answer of a call whose caller gave up: the running one ends on its own worker first, the queued one never runs', async () => {
    const workers = open(1, { deadlineMs: startupAllowanceMs });
    const pid = await workers.call('pid');
    const marker = join(await mkdtemp(join(tmpdir(), 'quarry-worker-pool-')), 'finish');
    const caller = new AbortController();
    const gone = new Error('caller gone');
    const running = workers.callUntil(caller.signal, 'spinUntil', marker);
    let settled = false;
    running
      .catch(() => {})
      .finally(() => {
        settled = true;
      });
    const queued = workers.callUntil(caller.signal, 'echo', 'never');
    caller.abort(gone);
    await expect(queued).rejects.toBe(gone);
    // Still running: the caller learns it gave up only once nothing it started runs.
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);

    await writeFile(marker, '');
    await expect(running).rejects.toMatchObject({ name: 'CallAbandonedError', cause: gone });
    expect(workerRestartOf(await running.catch((error: unknown) => error))).toBeUndefined();
    // The same process serves the next call: abandoning a call costs no restart.
    expect(await workers.call('pid')).toBe(pid);
    expect(lost).toEqual([]);
    await expect(workers.callUntil(caller.signal, 'pid')).rejects.toBe(gone);
    await rm(dirname(marker), { recursive: true, force: true });
  });

  it('still stops an abandoned call at its deadline, and replaces its worker', async () => {
    const workers = open(1);
    const stuckPid = await workers.call('pid');
    const caller = new AbortController();
    const running = workers.callUntil(caller.signal, 'spin');
    caller.abort(new Error('caller gone'));
    await expect(running).rejects.toBeInstanceOf(DeadlineExceededError);
    // The restart it caused, for the tenant's bulkhead to wait on.
    await workerRestartOf(await running.catch((error: unknown) => error));
    expect(lost).toEqual(['deadline']);
    expect(isAlive(stuckPid)).toBe(false);
    expect(await workers.call('pid')).not.toBe(stuckPid);
  });

  it('reports a worker that died on its own, and serves the next call from a new one', async () => {
    const workers = open(1, { deadlineMs: startupAllowanceMs });
    const pid = await workers.call('pid');
    // As the OOM killer would: from outside the pool.
    process.kill(pid, 'SIGKILL');
    await vi.waitFor(() => expect(lost).toEqual(['exited']), { timeout: startupAllowanceMs });
    expect(await workers.call('pid')).not.toBe(pid);
    expect(lost).toEqual(['exited']);
  });

  it('kills its workers on close, even mid-call, and refuses calls after', async () => {
    const workers = open(1, { deadlineMs: 60_000 });
    const pid = await workers.call('pid');
    const running = workers.call('spin');
    await workers.close();
    await expect(running).rejects.toThrow(/worker exited/);
    // Its exit event has fired: the process is gone, not just signalled.
    expect(isAlive(pid)).toBe(false);
    await expect(workers.call('pid')).rejects.toThrow(/closed/);
    // Closing is no loss.
    expect(lost).toEqual([]);
  });
});

import { type ChildProcess, fork } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { WorkerLoss } from '../observability/events.ts';
import type { WorkerReply, WorkerRequest } from './worker-protocol.ts';

/** The calls a worker serves: each method takes structured-cloneable arguments and returns a promise. */
// biome-ignore lint/suspicious/noExplicitAny: a method table of any shape; callers get its exact types back.
export type WorkerApi = Record<string, (...args: any[]) => Promise<unknown>>;

export interface WorkerPoolOptions {
  /** The module every worker runs; it calls `serveWorkerCalls` with the handlers named by `Api`. */
  entry: URL;
  /** Handed to each worker on start (`workerInput()`), for instance the database path. Structured-cloneable. */
  input: unknown;
  /** Workers at most; they start on demand. */
  size: number;
  /** How long one call may run on a worker before the worker is killed. */
  deadlineMs: number;
  /** How long a call may wait for a free worker (one starting included) before it is refused. Default `deadlineMs`. */
  queueTimeoutMs?: number;
  /** Names the pool in errors and metrics, for instance `sqlite-search`. */
  name: string;
  /** Told each time a worker is lost (killed by the pool, or died on its own), so operators see it. */
  onWorkerLost?: (reason: WorkerLoss) => void;
}

/**
 * A call ran past its deadline and its worker was killed. It is the query's
 * own cost, not a sign that the dependency is down, so breakers do not count it.
 */
export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
  readonly isDeadlineExceeded = true;
  /**
   * Settles once the killed worker's replacement is ready (or failed to
   * start), so a caller can charge the restart to whoever caused it.
   */
  readonly replaced: Promise<void>;
  constructor(pool: string, method: string, deadlineMs: number, replaced: Promise<void>) {
    super(`${pool}: ${method} ran past its ${deadlineMs} ms deadline and was stopped`);
    this.replaced = replaced;
  }
}

export function isDeadlineExceeded(error: unknown): error is DeadlineExceededError {
  return (error as DeadlineExceededError | null)?.isDeadlineExceeded === true;
}

/**
 * A call whose caller stopped waiting while it ran: its worker finished it
 * and its answer was dropped. `cause` is the signal's reason.
 */
export class CallAbandonedError extends Error {
  override name = 'CallAbandonedError';
  constructor(pool: string, method: string, reason: unknown) {
    super(`${pool}: ${method} was abandoned by its caller`, { cause: reason });
  }
}

/** The restart a failed call caused, if it ran past its deadline, found on the error or on what it wraps. */
export function workerRestartOf(error: unknown): Promise<void> | undefined {
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    if (current instanceof DeadlineExceededError) return current.replaced;
    if (typeof current !== 'object') return undefined;
  }
  return undefined;
}

/**
 * Every worker stayed busy with other calls for the whole queue wait. The
 * workers are answering, only all taken, so breakers do not count it either.
 */
export class WorkersBusyError extends Error {
  override name = 'WorkersBusyError';
  readonly isWorkersBusy = true;
  constructor(pool: string, method: string, queueTimeoutMs: number) {
    super(`${pool}: no worker free within ${queueTimeoutMs} ms for ${method}`);
  }
}

export function isWorkersBusy(error: unknown): error is WorkersBusyError {
  return (error as WorkersBusyError | null)?.isWorkersBusy === true;
}

export interface WorkerPool<Api extends WorkerApi> {
  call<M extends keyof Api & string>(
    method: M,
    ...args: Parameters<Api[M]>
  ): Promise<Awaited<ReturnType<Api[M]>>>;
  /**
   * `call`, abandoned when `signal` aborts: a queued call leaves the queue and
   * rejects with the signal's reason; a running one runs on, within its
   * deadline, and rejects with `CallAbandonedError` once its worker is free
   * (a process start costs more than the rest of most calls, and the caller
   * learns when nothing it started still runs).
   */
  callUntil<M extends keyof Api & string>(
    signal: AbortSignal | undefined,
    method: M,
    ...args: Parameters<Api[M]>
  ): Promise<Awaited<ReturnType<Api[M]>>>;
  /**
   * Starts every worker now rather than on demand, so the first calls do not
   * wait for one; resolves once all are ready, rejects if one fails to start.
   */
  start(): Promise<void>;
  /** Workers alive now, busy or idle (for tests and metrics). */
  size(): number;
  /** Kills every worker and refuses what is queued; later calls are refused. */
  close(): Promise<void>;
}

/** How much lower than its caller a worker runs (a Unix nice increment). */
const workerNiceness = 5;

interface Job {
  method: string;
  args: unknown[];
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** While queued: refuses the call once it has waited a deadline. While running: kills the worker. */
  timer?: NodeJS.Timeout;
  /** Set while the caller's signal can abandon the call; removed once it settles. */
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Set when its caller gave up while it ran: its answer is dropped. */
  abandoned?: { reason: unknown };
}

interface Worker {
  process: ChildProcess;
  /** Whether it has built its handlers; a call's deadline never pays for a worker's start. */
  ready: boolean;
  /** Settles when the worker is ready, or fails to start. */
  started: Promise<void>;
  job?: Job;
  nextId: number;
  /** Killed by the pool (deadline, close), so its exit is not a loss of its own. */
  killed?: boolean;
}

/**
 * Runs synchronous work (node:sqlite queries) in child processes, so a slow
 * call never blocks the caller's event loop, and stops it at its deadline.
 *
 * Processes, not worker threads: node:sqlite offers no interrupt or progress
 * handler, and `Worker.terminate()` waits for the running SQLite statement to
 * return to JavaScript, so a thread keeps burning a core until the query ends.
 * A process is killed at once with SIGKILL.
 */
export function createWorkerPool<Api extends WorkerApi>(options: WorkerPoolOptions): WorkerPool<Api> {
  const { entry, input, size, deadlineMs, name, queueTimeoutMs = deadlineMs, onWorkerLost } = options;
  const workers = new Set<Worker>();
  const idle: Worker[] = [];
  let starting = 0;
  const queue: Job[] = [];
  let closed = false;

  function spawn(): Worker {
    const child = fork(fileURLToPath(entry), [], {
      serialization: 'advanced',
      // The parent's flags (loaders, inspector, test runners) are not the worker's business.
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const { promise: started, resolve: onReady, reject: onFailedStart } = Promise.withResolvers<void>();
    // Only `start()` awaits this; a worker started on demand that fails is reported by its calls.
    started.catch(() => {});
    const worker: Worker = { process: child, nextId: 0, ready: false, started };
    // Below the caller's priority: on a busy machine the HTTP server and health routes run first.
    // A worker that already died (ESRCH) is reported by its 'exit'.
    try {
      if (child.pid !== undefined) setPriority(child.pid, Math.min(19, getPriority() + workerNiceness));
    } catch {}
    workers.add(worker);
    starting += 1;
    child.send({ input } satisfies WorkerRequest);
    child.on('message', (reply: WorkerReply) => {
      if ('ready' in reply) {
        worker.ready = true;
        onReady();
        starting -= 1;
        idle.push(worker);
        dispatch();
      } else settle(worker, reply);
    });
    // A worker that dies on its own (out of memory, a crash) fails its call; the next call starts another.
    child.on('exit', (code, signal) => {
      if (!worker.ready) {
        starting -= 1;
        onFailedStart(new Error(`${name}: worker exited (${signal ?? code}) before it was ready`));
      }
      worker.ready = true;
      if (!worker.killed && !closed) onWorkerLost?.('exited');
      discard(worker);
      const job = worker.job;
      worker.job = undefined;
      if (job) {
        finish(job);
        job.reject(new Error(`${name}: worker exited (${signal ?? code}) during ${job.method}`));
      }
      dispatch();
    });
    child.on('error', () => {
      // 'exit' follows and fails the call; without a listener, the error would crash the caller.
    });
    return worker;
  }

  function discard(worker: Worker) {
    workers.delete(worker);
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
  }

  /** A job is done with its timer and its caller's signal, however it ended. */
  function finish(job: Job) {
    clearTimeout(job.timer);
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
  }

  /**
   * Kills the worker running `job`, past its deadline, and starts its replacement at once; settles
   * when that one is ready.
   */
  function stopAtDeadline(worker: Worker, job: Job): Promise<void> {
    finish(job);
    worker.job = undefined;
    worker.killed = true;
    discard(worker);
    worker.process.kill('SIGKILL');
    if (!closed) onWorkerLost?.('deadline');
    // Replaced at once, not on the next call: starting a process costs more than most searches.
    const replaced = closed ? Promise.resolve() : spawn().started.catch(() => {});
    dispatch();
    return replaced;
  }

  function settle(worker: Worker, reply: Exclude<WorkerReply, { ready: true }>) {
    const job = worker.job;
    if (!job || reply.id !== worker.nextId) return;
    finish(job);
    worker.job = undefined;
    if (job.abandoned) job.reject(new CallAbandonedError(name, job.method, job.abandoned.reason));
    else if ('error' in reply)
      job.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
    else job.resolve(reply.value);
    idle.push(worker);
    dispatch();
  }

  function run(worker: Worker, job: Job) {
    finish(job);
    worker.job = job;
    worker.nextId += 1;
    job.timer = setTimeout(() => {
      // Timers run before I/O: after a busy stretch of this event loop, a reply that came in time may be
      // waiting in the pipe. The check phase comes after the poll that reads it, so only a late call is stopped.
      setImmediate(() => {
        if (worker.job !== job) return;
        const replaced = stopAtDeadline(worker, job);
        job.reject(new DeadlineExceededError(name, job.method, deadlineMs, replaced));
      });
    }, deadlineMs);
    if (job.signal) {
      const { signal } = job;
      job.onAbort = () => {
        job.abandoned = { reason: signal.reason };
      };
      signal.addEventListener('abort', job.onAbort, { once: true });
    }
    worker.process.send({ id: worker.nextId, method: job.method, args: job.args } satisfies WorkerRequest);
  }

  function dispatch() {
    if (closed) return;
    for (let worker = idle.pop(); worker; worker = idle.pop()) {
      const job = queue.shift();
      if (!job) {
        idle.push(worker);
        return;
      }
      run(worker, job);
    }
    while (queue.length > starting && workers.size < size) spawn();
  }

  function callUntil(signal: AbortSignal | undefined, method: string, ...args: unknown[]): Promise<never> {
    if (closed) return Promise.reject(new Error(`${name}: pool is closed`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const job: Job = { method, args, resolve: resolve as (value: unknown) => void, reject, signal };
      const leaveQueue = () => {
        queue.splice(queue.indexOf(job), 1);
        finish(job);
      };
      job.timer = setTimeout(() => {
        leaveQueue();
        reject(new WorkersBusyError(name, method, queueTimeoutMs));
      }, queueTimeoutMs);
      if (signal) {
        // Replaced by the running job's own listener once a worker takes it.
        job.onAbort = () => {
          leaveQueue();
          reject(signal.reason);
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      queue.push(job);
      dispatch();
    });
  }

  return {
    call: (method, ...args) => callUntil(undefined, method, ...args),
    callUntil,
    async start() {
      while (!closed && workers.size < size) spawn();
      await Promise.all([...workers].map((worker) => worker.started));
    },
    size: () => workers.size,
    async close() {
      closed = true;
      for (const job of queue.splice(0)) {
        finish(job);
        job.reject(new Error(`${name}: pool is closed`));
      }
      const exits = [...workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.process.exitCode !== null || worker.process.signalCode !== null) resolve();
            else worker.process.once('exit', () => resolve()).kill('SIGKILL');
          }),
      );
      await Promise.all(exits);
    },
  };
}

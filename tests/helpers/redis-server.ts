import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { tiedToParent } from '../../bench/processes.ts';
import { createRedisClient } from '../../server/cache/index.ts';
import { createLogger } from '../../server/logger.ts';

/** A free loopback port: bind to 0, read it, release it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export interface TestRedis {
  port: number;
  url: string;
  /** SIGKILL: no goodbye to clients, every key lost (no persistence). */
  kill(): Promise<void>;
  /** Starts again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing is answered, as with a hung server. */
  freeze(): void;
  /** SIGCONT: answers again, everything kept. */
  thaw(): void;
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  /** The server binary, looked up on PATH. Default `redis-server`. */
  command?: string;
}

/** Debian's package; .ci/run installs it when missing. */
const redisInstallHint = 'install it with: apt-get install -y redis-server';

async function answersPing(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await ping(port)) return;
    await sleep(50);
  }
  throw new Error(`redis-server did not answer PING on port ${port}`);
}

/**
 * A real redis-server on a free loopback port, without persistence, that a
 * test can kill and restart. Never a mock: the adapters' behaviour on a dead
 * connection is what the resilience tests are about. It dies with the
 * process that started it, even one killed outright.
 */
export async function startTestRedis({
  command = 'redis-server',
}: TestRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start() {
    const running = spawn(
      ...tiedToParent(command, [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ]),
      { stdio: 'ignore' },
    );
    child = running;
    // A missing binary fails now, by name, rather than as a PING timeout seconds later:
    // spawn's ENOENT, or setpriv's 127 (command not found) when tied to this process.
    const notInstalled = new Error(`${command} is not installed: ${redisInstallHint}`);
    const spawnFailed = once(running, 'error').then(([error]: Error[]) => {
      throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? notInstalled : error;
    });
    const exitedEarly = once(running, 'exit').then(([code]: (number | null)[]) => {
      throw code === 127 ? notInstalled : new Error(`${command} exited (${code}) before answering PING`);
    });
    // Only a rejection before PING answers matters; a later exit is the test's own kill.
    exitedEarly.catch(() => {});
    await Promise.race([answersPing(port), spawnFailed, exitedEarly]);
  }

  async function kill() {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: start,
    stop: kill,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
  };
}

export interface TestRedisConnection {
  server: TestRedis;
  client: Redis;
}

/**
 * A real redis-server and a connected, fail-fast client for the enclosing
 * test file or `describe` block, stopped after it. Read the fields inside
 * tests and hooks: they are set in `beforeAll`.
 */
export function useTestRedis(): TestRedisConnection {
  const connection = {} as TestRedisConnection;
  beforeAll(async () => {
    connection.server = await startTestRedis();
    connection.client = createRedisClient({
      url: connection.server.url,
      logger: createLogger({ level: 'silent' }),
    });
    if (connection.client.status !== 'ready') await once(connection.client, 'ready');
  });
  afterAll(async () => {
    connection.client.disconnect();
    await connection.server.stop();
  });
  return connection;
}

/** Reads (GET and MGET) Redis has answered so far, from its command statistics. */
export async function redisReadCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return ['get', 'mget']
    .map((command) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0))
    .reduce((sum, calls) => sum + calls, 0);
}

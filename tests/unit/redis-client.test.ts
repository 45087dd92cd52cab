import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../server/cache/index.ts';
import { createLogger } from '../../server/logger.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';

interface LogLine {
  level: string;
  msg: string;
  reason?: string;
}

describe('the Redis client', () => {
  let server: TestRedis;
  let client: Redis;
  let lines: LogLine[];

  /** A client of the test server whose log lines the test reads. */
  async function connect(options: { commandTimeoutMs?: number; urlVariable?: string } = {}) {
    lines = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    client = createRedisClient({ url: server.url, logger, ...options });
    await ready();
  }

  /** The client may reconnect before `restart` has seen the server answer. */
  async function ready() {
    if (client.status !== 'ready') await next('ready');
  }

  /** The client's next `name` event; unlike `events.once`, an 'error' on the way (a dropped connection) does not end the wait. */
  const next = (name: string) => new Promise((resolve) => client.once(name, resolve));

  const logged = (level: string) => lines.filter((line) => line.level === level).map((line) => line.msg);

  beforeEach(async () => {
    server = await startTestRedis();
  });

  afterEach(async () => {
    server.thaw();
    client?.disconnect();
    await server.stop();
  });

  it('fails a command at once while Redis is away, rather than queueing it, and reconnects by itself', async () => {
    await connect();
    const closed = next('close');
    await server.kill();
    await closed;
    // Queued, it would wait for the reconnection below, and the caller with it.
    await expect(client.get('k')).rejects.toThrow(/enableOfflineQueue/);
    await server.restart();
    await ready();
    await client.set('k', 'back');
    expect(await client.get('k')).toBe('back');
  });

  it('retries a dropped connection soon, then backs off, jittered, never waiting more than a second', async () => {
    await connect();
    const waits: number[] = [];
    client.on('reconnecting', (waitMs: number) => waits.push(waitMs));
    await server.kill();
    // The fifth attempt onwards waits the longest; two of them show the cap and the jitter.
    while (waits.length < 6) await next('reconnecting');
    const [first = Number.POSITIVE_INFINITY] = waits;
    expect(first).toBeLessThanOrEqual(100);
    expect(Math.min(...waits.slice(3))).toBeGreaterThan(first);
    for (const waitMs of waits) expect(waitMs).toBeLessThanOrEqual(1000);
    // Replicas that lost Redis together do not all come back in the same instant.
    expect(new Set(waits.slice(4)).size).toBe(2);
  });

  it('fails a command that Redis does not answer within the command timeout', async () => {
    await connect({ commandTimeoutMs: 100 });
    server.freeze();
    await expect(client.get('k')).rejects.toThrow('Command timed out');
    server.thaw();
    expect(await client.ping()).toBe('PONG');
  });

  it('warns once per outage, naming the address and its variable, and says when Redis is back', async () => {
    await connect({ urlVariable: 'GATEWAY_REDIS_URL' });
    await server.kill();
    // Reconnection attempts keep failing while it is down: one warning, not one per attempt.
    for (let failures = 0; failures < 3; failures++) await next('error');
    expect(logged('warn')).toEqual([
      `redis at ${server.url} (GATEWAY_REDIS_URL) is unavailable; serving without it`,
    ]);
    expect(lines.find((line) => line.level === 'warn')?.reason).toMatch(/ECONN/);
    await server.restart();
    await ready();
    expect(logged('info')).toEqual(['redis available again']);
    // A second outage is news again.
    await server.kill();
    await next('error');
    expect(logged('warn')).toHaveLength(2);
  });

  it('names REDIS_URL when no other variable is given, and says nothing on a first connection', async () => {
    await connect();
    expect(logged('info')).toEqual([]);
    await server.kill();
    await next('error');
    expect(logged('warn')).toEqual([`redis at ${server.url} (REDIS_URL) is unavailable; serving without it`]);
  });
});

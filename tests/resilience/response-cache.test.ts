import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgets, eventually, type Harness, readiness, startHarness, timed } from './harness.ts';

/**
 * The gateway's response cache lives in Redis, and its hits are answered in
 * front of Apollo. With Redis gone, the same queries must still be answered,
 * correctly and without waiting on the dead server, and hits must come back
 * once it returns.
 */
describe('response cache while Redis is down', () => {
  let h: Harness;
  const query = '{ documents(ids: ["rc-1"]) { id title } }';

  const responseHits = async () => {
    const metrics = await (await fetch(new URL('/metrics', h.stack.gatewayUrl))).text();
    const line = metrics
      .split('\n')
      .find((candidate) => candidate.startsWith('quarry_cache_lookups_total{cache="response",outcome="hit"'));
    return Number(line?.split(' ').at(-1) ?? 0);
  };

  beforeAll(async () => {
    h = await startHarness('tenant-rc-redis', { redisTimeoutMs: budgets.redisTimeoutMs });
    await h.stack.store.create(
      'tenant-rc-redis',
      { title: 'Cached title', body: 'b', tags: [], author: null, status: 'PUBLISHED' },
      'rc-1',
    );
    // Indexed now, so the indexer's generation bump cannot drop the entry in the middle of the test.
    await h.stack.settle();
  });
  afterAll(() => h.stop());

  it('answers from the backends, fast once the breaker opens, and serves hits again after a restart', async () => {
    const ask = () => h.stack.graphql<{ documents: { title: string }[] }>(query, { token: h.token });
    // The miss stores its answer without the client waiting for it, so the next ask may still miss.
    await eventually(async () => {
      const before = await responseHits();
      expect((await ask()).data?.documents[0]?.title).toBe('Cached title');
      expect(await responseHits()).toBe(before + 1);
    });

    await h.redis.kill();
    // Copies kept in process may answer until Redis has missed a heartbeat (100 ms) plus a command timeout.
    await new Promise((resolve) => setTimeout(resolve, 100 + budgets.redisTimeoutMs + 100));
    const hitsBefore = await responseHits();
    const waits: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const { ms, result } = await timed(ask);
      expect(result.errors).toBeUndefined();
      expect(result.data?.documents[0]?.title).toBe('Cached title');
      waits.push(ms);
    }
    // The first requests may each wait out a command timeout; once the breaker is open, none does.
    expect(Math.max(...waits.slice(-3))).toBeLessThan(budgets.openBackendMs);
    const hitsWhileDown = await responseHits();
    expect(hitsWhileDown).toBe(hitsBefore);

    await h.redis.restart();
    await eventually(async () => {
      expect((await readiness(h.stack.gatewayUrl)).body.dependencies.redis?.ok).toBe(true);
    });
    await eventually(async () => {
      await ask();
      await ask();
      expect(await responseHits()).toBeGreaterThan(hitsWhileDown);
    });
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import type { FaultMode } from '../helpers/fault-proxy.ts';
import {
  breakerOf,
  budgets,
  eventually,
  expectNoErrors,
  matrixHarness,
  readiness,
  timed,
} from './harness.ts';

const faults: { name: string; mode: FaultMode; delayMs?: number }[] = [
  { name: 'down', mode: 'refuse' },
  { name: 'slow', mode: 'delay', delayMs: 1000 },
  { name: 'reset', mode: 'reset' },
  { name: 'blackhole', mode: 'blackhole' },
];

describe('resilience matrix: Redis', () => {
  const cell = matrixHarness('tenant-redis', {
    seed: { title: 'Served without Redis', body: 'pelican' },
    reset: (h) => h.redisProxy.set('pass'),
    redisTimeoutMs: budgets.redisTimeoutMs,
  });

  const { search } = cell;
  const read = () =>
    cell.h.stack.graphql<{ document: { title: string } }>(
      'query ($id: ID!) { document(id: $id) { title } }',
      {
        token: cell.h.token,
        variables: { id: cell.id },
      },
    );

  for (const { name, mode, delayMs } of faults) {
    it(`${name}: every request is answered fresh from the backends, fast once the breaker opens; caching resumes`, async () => {
      const { h } = cell;
      await h.redisProxy.set(mode, { delayMs });
      // Until each service's redis breaker opens, a request pays at most a few command timeouts.
      for (let request = 0; request < 4; request++) {
        const found = await timed(() => search('pelican'));
        expectNoErrors(found.result);
        expect(found.result.data!.search.stale).toBe(false);
        expect(found.result.data!.search.hits[0]!.document!.title).toBe('Served without Redis');
        expect(found.ms).toBeLessThan(budgets.redisTimeoutMs * 6 + 500);
        expectNoErrors(await read());
      }
      for (const url of [h.stack.gatewayUrl, h.stack.searchUrl, h.stack.documentsUrl]) {
        expect(await breakerOf(url, 'redis')).toBe('open');
        // Redis is optional everywhere: nobody goes unready for it.
        expect((await readiness(url)).status).toBe(200);
      }
      // With the breaker open, Redis adds nothing to latency.
      const fast = await timed(() => search('pelican'));
      expectNoErrors(fast.result);
      expect(fast.ms).toBeLessThan(budgets.openBackendMs);

      await h.redisProxy.set('pass');
      await eventually(async () => {
        for (const url of [h.stack.gatewayUrl, h.stack.searchUrl, h.stack.documentsUrl]) {
          const state = (await readiness(url)).body.dependencies.redis!;
          expect(state.ok, `${url} ${JSON.stringify(state)}`).toBe(true);
          expect(state.detail?.breaker).toBe('closed');
        }
        // Caching resumed: the second identical search never reaches the index.
        const query = `pelican recovered ${name}`;
        await search(query);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const before = h.indexFaults.calls();
        expectNoErrors(await search(query));
        expect(h.indexFaults.calls()).toBe(before);
      });
    });
  }
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgets, eventually, type Harness, readiness, startHarness } from './harness.ts';

/**
 * Every service runs in this one process, so on a busy 2-core machine this is most of a minute. A third
 * of them, about 130 searches, with Redis up, down and back, is enough for the cache-hit ratios below.
 */
const total = 1200;
/**
 * The longest any one request may take. Generous, because a busy machine took over 3 s for some; what it
 * guards against is a request waiting on the dead Redis, which without fail-fast commands and breakers
 * would wait until the test's own timeout.
 */
const slowestRequestMs = 10_000;
const concurrency = 16;
const tenants = ['tenant-load-a', 'tenant-load-b'] as const;

interface LoadData {
  search?: { hits: { document: { id: string; title: string } | null }[] };
  documents?: ({ id: string; title: string } | null)[];
}

describe('Redis killed and restarted under load', () => {
  let h: Harness;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    // While Redis is down every search reaches the index; on a machine running other suites its two
    // workers then queued searches past the default 250 ms, which is the bulkheads' business, not Redis's.
    h = await startHarness('tenant-load-a', {
      env: { SEARCH_QUEUE_TIMEOUT_MS: '5000' },
      redisTimeoutMs: budgets.redisTimeoutMs,
    });
    for (const tenantId of tenants) {
      tokens[tenantId] = await h.stack.token(tenantId);
      // Same ids and same words in both tenants: only the tenant in the key tells their cache entries apart.
      for (let number = 1; number <= 3; number++) {
        await h.stack.store.create(
          tenantId,
          {
            title: `${tenantId} lantern ${number}`,
            body: 'lantern',
            tags: [],
            author: null,
            status: 'PUBLISHED',
          },
          `shared-${number}`,
        );
      }
    }
    await h.stack.settle();
  });
  afterAll(() => h.stop());

  it(`${total} requests from two tenants: none fails for want of Redis, none sees the other tenant`, async () => {
    let sent = 0;
    let done = 0;
    const failures: unknown[] = [];
    const leaks: unknown[] = [];
    let slowest = 0;
    let killed = false;
    let restarted = false;
    let chaos = Promise.resolve();
    // Search requests and index calls per phase (Redis up, killed, restarted): the cache must have been in play.
    const searches = [0, 0, 0];
    /** Index calls so far when each phase began. */
    const callsAt = [h.indexFaults.calls(), 0, 0];
    const phase = () => (restarted ? 2 : killed ? 1 : 0);

    async function one(position: number) {
      const tenantId = tenants[position % 2]!;
      const query =
        position % 3 !== 0
          ? '{ documents(ids: ["shared-1", "shared-2", "shared-3"]) { id title } }'
          : '{ search(query: "lantern", first: 3) { hits { document { id title } } } }';
      const started = performance.now();
      const searching = position % 3 === 0;
      const at = phase();
      const result = await h.stack.graphql<LoadData>(query, { token: tokens[tenantId] });
      slowest = Math.max(slowest, performance.now() - started);
      if (searching) searches[at]! += 1;
      if (result.errors || result.status !== 200)
        failures.push({ position, status: result.status, errors: result.errors });
      const documents = [
        ...(result.data?.documents ?? []),
        ...(result.data?.search?.hits.map((hit) => hit.document) ?? []),
      ];
      if (
        documents.length !== 3 ||
        documents.some((document) => !document?.title.startsWith(`${tenantId} `))
      ) {
        leaks.push({ tenantId, documents });
      }
    }

    async function worker() {
      while (sent < total) {
        const position = sent++;
        await one(position);
        done++;
        if (!killed && done >= total / 3) {
          killed = true;
          callsAt[1] = h.indexFaults.calls();
          chaos = h.redis.kill();
        }
        if (!restarted && done >= (total * 2) / 3) {
          restarted = true;
          callsAt[2] = h.indexFaults.calls();
          chaos = chaos.then(() => h.redis.restart());
        }
      }
    }

    await Promise.all(Array.from({ length: concurrency }, worker));
    await chaos;
    const indexCalls = [0, 1].map((at) => callsAt[at + 1]! - callsAt[at]!);
    expect(killed && restarted).toBe(true);
    expect(failures.slice(0, 3)).toEqual([]);
    expect(leaks.slice(0, 3)).toEqual([]);
    // No request waited on the dead Redis for long: breakers and fail-fast commands keep it off the path.
    expect(slowest).toBeLessThan(slowestRequestMs);
    // With Redis up, nearly every search is a cache hit; while it is down, every search the gateway
    // sends reaches the index. The gateway sends identical searches in flight at the same moment once
    // (same token and query: these two tenants' workers often coincide), so that is fewer than all.
    // How many of the last third ran before the restart finished depends on the machine's speed, so
    // recovery is checked after the load instead.
    expect(indexCalls[0]).toBeLessThan(searches[0]! * 0.2);
    expect(indexCalls[1]).toBeGreaterThan(searches[1]! * 0.25);

    // And caching resumes by itself against the restarted (empty) server: a repeated search is a hit.
    await eventually(async () => {
      for (const url of [h.stack.gatewayUrl, h.stack.searchUrl, h.stack.documentsUrl]) {
        expect((await readiness(url)).body.dependencies.redis?.ok).toBe(true);
      }
    });
    const repeated = '{ search(query: "lantern", first: 2) { hits { document { id } } } }';
    await eventually(async () => {
      await h.stack.graphql(repeated, { token: tokens['tenant-load-a'] });
      const before = h.indexFaults.calls();
      await h.stack.graphql(repeated, { token: tokens['tenant-load-a'] });
      expect(h.indexFaults.calls()).toBe(before);
    });
  }, 120_000);
});

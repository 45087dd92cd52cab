import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { childrenOf } from '../../bench/processes.ts';
import { parseExposition, sampleValue } from '../helpers/prometheus.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Children of this process that run the embedded search's worker: the stack runs in this process. */
function searchWorkers(): number[] {
  return childrenOf(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sqlite-search-worker');
    } catch {
      return false; // Gone between the listing and the read.
    }
  });
}

describe('lost search workers', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it("counts a search worker that died on its own in the search subgraph's metrics, and searches go on", async () => {
    const token = await stack.token('tenant-workers');
    const workers = searchWorkers();
    expect(workers.length).toBeGreaterThan(0);
    // As the OOM killer would.
    process.kill(workers[0] as number, 'SIGKILL');
    const metricsUrl = stack.searchUrl.replace(/\/graphql$/, '/metrics');
    await vi.waitFor(
      async () => {
        const samples = parseExposition(await (await fetch(metricsUrl)).text());
        expect(
          sampleValue(samples, 'quarry_worker_losses_total', { pool: 'sqlite-search', reason: 'exited' }),
        ).toBe(1);
      },
      { timeout: 10_000, interval: 50 },
    );
    const searched = await stack.graphql('query Find { search(query: "anything") { total } }', { token });
    expect(searched.errors).toBeUndefined();
  });
});

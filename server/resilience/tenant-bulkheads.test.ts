import { describe, expect, it } from 'vitest';
import { createTenantBulkheads, TenantBusyError } from './tenant-bulkheads.ts';

/** A call that runs until released, recording that it started. */
function gate() {
  const { promise, resolve } = Promise.withResolvers<string>();
  let started = false;
  return {
    fn: () => {
      started = true;
      return promise;
    },
    started: () => started,
    release: (value = 'done') => resolve(value),
  };
}

/** Bulkheads of one slot, already taken by a call of tenant `t` that runs until released. */
function oneSlotTaken(queue: { queue: number; queueTimeoutMs: number }) {
  const bulkheads = createTenantBulkheads({ dependency: 'search-index', concurrency: 1, ...queue });
  const holder = gate();
  return { bulkheads, holder, held: bulkheads.run('t', holder.fn) };
}

describe('tenant bulkheads', () => {
  it("caps one tenant's calls in flight and queue, and refuses the rest at once, while other tenants run", async () => {
    const bulkheads = createTenantBulkheads({
      dependency: 'search-index',
      concurrency: 2,
      queue: 1,
      queueTimeoutMs: 60_000,
    });
    const gates = Array.from({ length: 3 }, gate);
    const running = gates.map((g) => bulkheads.run('noisy', g.fn));
    const refused = bulkheads.run('noisy', async () => 'never');
    await expect(refused).rejects.toBeInstanceOf(TenantBusyError);
    await expect(refused).rejects.toThrow('search-index: too many calls in flight for this tenant');
    expect(gates.map((g) => g.started())).toEqual([true, true, false]);
    // The neighbour is not behind the noisy tenant's queue.
    await expect(bulkheads.run('quiet', async () => 'answer')).resolves.toBe('answer');
    gates[0]?.release('first');
    await expect(running[0]).resolves.toBe('first');
    // The queued call takes the freed slot.
    await expect.poll(() => gates[2]?.started()).toBe(true);
    for (const g of gates) g.release();
    await Promise.all(running);
  });

  it('refuses a call that waited too long for a slot, and never runs it', async () => {
    const { bulkheads, holder, held } = oneSlotTaken({ queue: 4, queueTimeoutMs: 50 });
    let ran = false;
    await expect(
      bulkheads.run('t', async () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(TenantBusyError);
    holder.release();
    await held;
    // A later call still gets the slot: the refused one was dropped, not run.
    await expect(bulkheads.run('t', async () => 'next')).resolves.toBe('next');
    expect(ran).toBe(false);
  });

  it('lets a caller that has gone leave the queue at once, so its place goes to the next caller', async () => {
    const { bulkheads, holder, held } = oneSlotTaken({ queue: 1, queueTimeoutMs: 60_000 });
    const gone = new AbortController();
    let ran = false;
    const leaving = bulkheads.run(
      't',
      async () => {
        ran = true;
      },
      gone.signal,
    );
    gone.abort(new Error('The client closed the connection'));
    await expect(leaving).rejects.toThrow('The client closed the connection');
    // The queue's one place is free again: the next caller waits for the slot rather than being refused.
    const next = bulkheads.run('t', async () => 'next');
    holder.release();
    await held;
    await expect(next).resolves.toBe('next');
    expect(ran).toBe(false);
    // A caller already gone never queues.
    await expect(bulkheads.run('t', async () => 'never', gone.signal)).rejects.toThrow(
      'closed the connection',
    );
  });

  it('keeps a slot taken after its call returns, for as long as the call asks', async () => {
    const bulkheads = createTenantBulkheads({ dependency: 'search-index', concurrency: 1, queue: 0 });
    const restart = Promise.withResolvers<void>();
    await expect(
      bulkheads.run('t', async (holdSlot) => {
        holdSlot(restart.promise);
        throw new Error('stopped at its deadline');
      }),
    ).rejects.toThrow('stopped');
    await expect(bulkheads.run('t', async () => 'too soon')).rejects.toBeInstanceOf(TenantBusyError);
    restart.resolve();
    await restart.promise;
    await expect(bulkheads.run('t', async () => 'after the restart')).resolves.toBe('after the restart');
  });

  it("passes the call's own errors through and keeps no entry for an idle tenant", async () => {
    const bulkheads = createTenantBulkheads({ dependency: 'search-index' });
    const failure = new Error('backend down');
    await expect(bulkheads.run('t', () => Promise.reject(failure))).rejects.toBe(failure);
    const holder = gate();
    const held = bulkheads.run('other', holder.fn);
    expect(bulkheads.activeTenants()).toBe(1);
    holder.release();
    await held;
    expect(bulkheads.activeTenants()).toBe(0);
  });
});

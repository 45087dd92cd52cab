import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionLeases } from '../../indexer/partition-claims.ts';

/** A time `ms` after a fixed start: leases are judged by the times passed in, never by the clock. */
export const at = (ms: number) => new Date(1_700_000_000_000 + ms);

/** What every lease store must do, through the port only; each backend's test file calls it with a fresh store. */
export function describePartitionLeasesContract(
  backendName: string,
  createLeases: () => Promise<{ leases: PartitionLeases; cleanup(): Promise<void> }>,
) {
  describe(`PartitionLeases contract: ${backendName}`, () => {
    let leases: PartitionLeases;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ leases, cleanup } = await createLeases());
    });

    afterEach(async () => {
      await cleanup();
    });

    it('gives a free partition to the first holder and refuses it to others until the lease expires', async () => {
      expect(await leases.acquire(3, 'a', at(0), at(1000))).toBe(true);
      expect(await leases.acquire(3, 'b', at(999), at(1999))).toBe(false);
      expect(await leases.acquire(3, 'b', at(1000), at(2000))).toBe(true);
      // The first holder's renewal comes too late: the partition is b's now.
      expect(await leases.acquire(3, 'a', at(1001), at(2001))).toBe(false);
      expect((await leases.snapshot(at(1500))).leases).toEqual([
        { partition: 3, holder: 'b', expiresAt: at(2000) },
      ]);
    });

    it("renews the holder's own lease, which then keeps others out for longer", async () => {
      await leases.acquire(1, 'a', at(0), at(1000));
      expect(await leases.acquire(1, 'a', at(500), at(1500))).toBe(true);
      expect(await leases.acquire(1, 'b', at(1200), at(2200))).toBe(false);
      expect((await leases.snapshot(at(1200))).leases).toEqual([
        { partition: 1, holder: 'a', expiresAt: at(1500) },
      ]);
    });

    it('frees a released partition at once, and ignores a release by anyone but the holder', async () => {
      await leases.acquire(0, 'a', at(0), at(1000));
      await leases.release(0, 'b');
      expect(await leases.acquire(0, 'b', at(10), at(1010))).toBe(false);
      await leases.release(0, 'a');
      expect(await leases.acquire(0, 'b', at(20), at(1020))).toBe(true);
    });

    it('lets exactly one of many concurrent claimants win a partition', async () => {
      const claimants = Array.from({ length: 8 }, (_, i) => `holder-${i}`);
      const won = await Promise.all(claimants.map((holder) => leases.acquire(5, holder, at(0), at(1000))));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = claimants[won.indexOf(true)];
      expect((await leases.snapshot(at(1))).leases).toEqual([
        { partition: 5, holder: winner, expiresAt: at(1000) },
      ]);
    });

    it('lists the holders announced past now, with or without partitions, and only unexpired leases', async () => {
      await leases.announce('a', at(0), at(1000));
      await leases.announce('standby', at(0), at(3000));
      await leases.acquire(2, 'a', at(0), at(1000));
      expect(await leases.snapshot(at(500))).toEqual({
        holders: ['a', 'standby'],
        leases: [{ partition: 2, holder: 'a', expiresAt: at(1000) }],
      });
      expect(await leases.snapshot(at(1000))).toEqual({ holders: ['standby'], leases: [] });
      await leases.announce('a', at(1000), at(4000));
      expect((await leases.snapshot(at(2000))).holders).toEqual(['a', 'standby']);
    });
  });
}

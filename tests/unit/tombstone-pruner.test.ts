import { afterEach, expect, it } from 'vitest';
import { startTombstonePruner, type TombstonePruner } from '../../indexer/tombstone-pruner.ts';
import type { TombstonePruning } from '../../server/documents/model.ts';
import { createLogger } from '../../server/logger.ts';

const day = 86_400_000;
let pruner: TombstonePruner | undefined;

afterEach(async () => {
  await pruner?.stop();
});

/** A side holding `count` tombstones, all old enough, recording each call in `calls`. */
function side(name: string, count: number, calls: string[]): TombstonePruning {
  let left = count;
  return {
    async pruneTombstones(deletedBefore, limit) {
      calls.push(`${name} before ${deletedBefore.toISOString()} limit ${limit}`);
      const removed = Math.min(left, limit);
      left -= removed;
      return removed;
    },
  };
}

it('empties the index before the store, in bounded batches, with one cutoff per round', async () => {
  const calls: string[] = [];
  const now = Date.parse('2024-05-08T00:00:00.000Z');
  pruner = startTombstonePruner({
    index: side('index', 5, calls),
    store: side('store', 2, calls),
    retentionMs: 7 * day,
    // The round it starts with is the only one in this test.
    intervalMs: day,
    batchSize: 2,
    logger: createLogger({ level: 'silent' }),
    now: () => now,
  });
  expect(await pruner.pruneNow()).toEqual({ index: 0, store: 0 });
  const before = 'before 2024-05-01T00:00:00.000Z limit 2';
  expect(calls).toEqual([
    `index ${before}`,
    `index ${before}`,
    `index ${before}`,
    `store ${before}`,
    `store ${before}`,
    // The round pruneNow asked for, after the first one had removed everything.
    `index ${before}`,
    `store ${before}`,
  ]);
});

it('leaves the store alone when the index fails, so the store never forgets a tombstone the index keeps', async () => {
  const calls: string[] = [];
  pruner = startTombstonePruner({
    index: {
      async pruneTombstones() {
        calls.push('index');
        throw new Error('connect ECONNREFUSED (injected)');
      },
    },
    store: side('store', 1, calls),
    retentionMs: 7 * day,
    intervalMs: day,
    batchSize: 10,
    logger: createLogger({ level: 'silent' }),
  });
  await expect(pruner.pruneNow()).rejects.toThrow(/ECONNREFUSED/);
  expect(calls).toEqual(['index', 'index']);
});

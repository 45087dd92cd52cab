import { describe, expect, it } from 'vitest';
import { timeQueryPlans } from '../../bench/query-plans.ts';

describe('bench/query-plans.ts', () => {
  it('times the first plan and a replan of every persisted operation', async () => {
    const times = await timeQueryPlans(3);
    expect(times.map((time) => time.name)).toContain('SearchPage');
    for (const { firstMs, againMs } of times) {
      expect(firstMs).toBeGreaterThan(0);
      expect(againMs).toBeGreaterThan(0);
    }
  });
});

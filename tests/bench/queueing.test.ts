import { describe, expect, it } from 'vitest';
import { simulateTail } from '../../bench/queueing.ts';

describe('the queueing simulation behind the latency-tail argument in docs/benchmarks.md', () => {
  it('gives an idle server its service time at p50 and p99', () => {
    const { p50, p99 } = simulateTail(0.001, 1, 20_000);
    expect(p50).toBeCloseTo(1, 5);
    expect(p99).toBeLessThan(1.01);
  });

  it('puts p99 at about 4.3× p50 for one server at 50% utilisation (M/D/1)', () => {
    const { p50, p99 } = simulateTail(0.5, 1, 200_000);
    expect(p99 / p50).toBeGreaterThan(4);
    expect(p99 / p50).toBeLessThan(4.7);
  });

  it('shortens the tail with more servers sharing the queue at the same utilisation', () => {
    const one = simulateTail(0.5, 1, 200_000);
    const two = simulateTail(0.5, 2, 200_000);
    expect(two.p99 / two.p50).toBeLessThan(3);
    expect(two.p99 / two.p50).toBeLessThan(one.p99 / one.p50);
  });
});

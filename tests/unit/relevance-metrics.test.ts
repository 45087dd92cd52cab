import { describe, expect, it } from 'vitest';
import { measureQuery, measureRun, parseQrels } from '../../cli/relevance/metrics.ts';

const gains = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('relevance metrics (trec_eval definitions, hand-computed)', () => {
  it('computes nDCG@10 with linear gains against the ideal order of every judgment', () => {
    // Relevant: a (gain 3), b (gain 1), c (gain 2, never retrieved).
    // DCG = 1/log2(2) + 3/log2(4) = 1 + 1.5 = 2.5
    // IDCG = 3/1 + 2/log2(3) + 1/2 = 3 + 1.26186 + 0.5 = 4.76186
    const metrics = measureQuery(['b', 'x', 'a'], gains({ a: 3, b: 1, c: 2 }));
    expect(metrics.ndcgAt10).toBeCloseTo(2.5 / (3 + 2 / Math.log2(3) + 0.5), 10);
  });

  it('computes MAP@100 dividing by every relevant document, found or not', () => {
    // Relevant found at ranks 1 and 3: precisions 1/1 and 2/3; three relevant in all.
    const metrics = measureQuery(['a', 'x', 'b', 'y'], gains({ a: 1, b: 2, c: 1 }));
    expect(metrics.mapAt100).toBeCloseTo((1 + 2 / 3) / 3, 10);
    expect(metrics.recallAt100).toBeCloseTo(2 / 3, 10);
  });

  it('ignores what lies beyond the cut-offs', () => {
    const ranking = [...Array.from({ length: 100 }, (_, i) => `x${i}`), 'a'];
    const metrics = measureQuery(ranking, gains({ a: 4 }));
    expect(metrics).toEqual({ ndcgAt10: 0, mapAt100: 0, recallAt100: 0 });
    const atTen = measureQuery([...ranking.slice(0, 9), 'a'], gains({ a: 4 }));
    expect(atTen.ndcgAt10).toBeCloseTo(1 / Math.log2(11), 10);
    expect(atTen.mapAt100).toBeCloseTo(1 / 10, 10);
  });

  it('treats non-positive gains as not relevant and counts a repeated document once', () => {
    const metrics = measureQuery(['z', 'a', 'a'], gains({ a: 2, z: 0 }));
    expect(metrics.ndcgAt10).toBeCloseTo(1 / Math.log2(3), 10);
    expect(metrics.mapAt100).toBeCloseTo(1 / 2, 10);
    expect(metrics.recallAt100).toBe(1);
  });

  it('averages over queries with a relevant judgment, counting an empty result as zero', () => {
    const judgments = parseQrels('1\ta\t1\n2\tb\t3\n3\tc\t0\n');
    const run = measureRun(new Map([['1', ['a']]]), judgments);
    expect(run).toEqual({ queries: 2, ndcgAt10: 0.5, mapAt100: 0.5, recallAt100: 0.5 });
  });

  it('refuses a malformed qrels line, naming it', () => {
    expect(() => parseQrels('1\ta\t1\n2\tb\n')).toThrow('qrels line 2');
  });
});

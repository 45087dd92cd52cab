import { describe, expect, it } from 'vitest';
import {
  checkAgainstCommitted,
  committedNdcg,
  renderBlock,
  replaceBlock,
} from '../../cli/relevance/report.ts';

const measured = { label: 'Quarry', ndcgAt10: 0.4, mapAt100: 0.3, recallAt100: 0.8, emptyPages: 0 };
const baseline = { label: 'plain BM25', ndcgAt10: 0.35, mapAt100: 0.28, recallAt100: 0.72 };

describe('docs/relevance.md figures block', () => {
  it('adds the block once, then replaces it in place, leaving the rest of the document alone', () => {
    const first = replaceBlock(
      '# Relevance\n\nprose\n',
      'cranfield embedded',
      renderBlock('cranfield embedded', measured, baseline, 225),
    );
    expect(first).toContain('| Quarry | 0.4000 | 0.3000 | 0.8000 | 0 |');
    const second = replaceBlock(
      `${first}\n## After\n`,
      'cranfield embedded',
      renderBlock('cranfield embedded', { ...measured, ndcgAt10: 0.41 }, baseline, 225),
    );
    expect(second).toContain('| Quarry | 0.4100 |');
    expect(second).not.toContain('| Quarry | 0.4000 |');
    expect(second.match(/## Current figures/g)).toHaveLength(1);
    expect(second).toContain('prose');
    expect(second).toContain('## After');
  });

  it('reads the committed nDCG@10 of the measured row, not the baseline', () => {
    const document = replaceBlock(
      '',
      'cranfield embedded',
      renderBlock('cranfield embedded', measured, baseline, 225),
    );
    expect(committedNdcg(document, 'cranfield embedded')).toBe(0.4);
    expect(committedNdcg(document, 'cranfield elasticsearch')).toBeUndefined();
  });

  it('fails the check only when nDCG@10 falls more than 0.01 below the committed figure', () => {
    const run = (ndcgAt10: number) => ({ queries: 1, ndcgAt10, mapAt100: 0, recallAt100: 0 });
    expect(checkAgainstCommitted(run(0.391), 0.4)).toBeUndefined();
    expect(checkAgainstCommitted(run(0.389), 0.4)).toMatch(
      /^nDCG@10 0.3890 is more than 0.01 below the committed 0.4000$/,
    );
    expect(checkAgainstCommitted(run(0.5), undefined)).toMatch(/no committed figure/);
  });
});

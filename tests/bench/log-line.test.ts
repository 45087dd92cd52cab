import { describe, expect, it } from 'vitest';
import { timeLogLines } from '../../bench/log-line.ts';

describe('bench/log-line.ts', () => {
  it('times both ways of writing the request line', () => {
    const { redacted, requestLog } = timeLogLines(2000, 3);
    for (const nanoseconds of [redacted, requestLog]) {
      expect(Number.isFinite(nanoseconds)).toBe(true);
      expect(nanoseconds).toBeGreaterThan(0);
    }
  });
});

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readAtMost } from './response-size.ts';

const stream = (chunks: string[]) => Readable.from(chunks.map((chunk) => Buffer.from(chunk)));

describe('readAtMost', () => {
  it('reads an answer up to the cap', async () => {
    expect(await readAtMost(stream(['ab', 'cd']), undefined, 4)).toBe('abcd');
  });

  it('stops reading, and drops the rest, once the answer passes the cap', async () => {
    const body = stream(['ab', 'cd', 'e', 'never read']);
    await expect(readAtMost(body, undefined, 4)).rejects.toMatchObject({
      extensions: { code: 'RESPONSE_TOO_LARGE' },
    });
    expect(body.destroyed).toBe(true);
  });

  it('refuses a declared length over the cap without reading', async () => {
    const body = stream(['ab']);
    await expect(readAtMost(body, '5', 4)).rejects.toMatchObject({
      extensions: { code: 'RESPONSE_TOO_LARGE' },
    });
    expect(body.readableDidRead).toBe(false);
  });
});

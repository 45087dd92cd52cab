import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from '../../schema/compose.ts';
import { supergraphPath } from '../../schema/subgraphs.ts';

describe('schema/supergraph.graphql', () => {
  it('composes without errors and matches the committed file (run `npm run compose` if this fails)', () => {
    expect(readFileSync(supergraphPath, 'utf8')).toBe(composeSupergraph());
  });
});

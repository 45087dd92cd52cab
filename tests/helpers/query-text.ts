import fc from 'fast-check';

/**
 * Random search text as users and attackers type it: plain strings, and
 * strings built from the query syntax and from backend syntax that must never
 * pass through (FTS5 column filters and NEAR, Lucene's ^ and ~, braces).
 */
export function queryText(maxLength = 200): fc.Arbitrary<string> {
  const syntax = fc.constantFrom(
    ...['"', '+', '-', '*', ' ', ':', '(', ')', '^', '~', '{', '}'],
    ...['NEAR', 'OR', 'NOT', 'title', 'the', 'é'],
  );
  return fc.oneof(
    fc.string({ maxLength }),
    fc.array(fc.oneof(syntax, fc.string({ maxLength: 6 })), { maxLength: 40 }).map((parts) => parts.join('')),
  );
}

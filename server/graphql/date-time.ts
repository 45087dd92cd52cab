import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Timestamps are stored and compared as UTC ISO strings, which sort as times
 * only while the year has four digits: 9999-12-31T23:00-05:00 is in year
 * 10000 in UTC, written `+010000-…`, which sorts before every other date.
 */
const inRange = (date: Date) => date.getUTCFullYear() >= 1 && date.getUTCFullYear() <= 9999;

/** `Date` rolls an impossible day over (February 30 becomes March 1); a client who sent one made a mistake. */
function dayExists(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function parseTimestamp(value: unknown): Date {
  const date =
    typeof value === 'string' && isoTimestamp.test(value) && dayExists(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime()) || !inRange(date)) {
    throw new GraphQLError(
      'DateTime must be an ISO-8601 timestamp with a time zone, in years 0001 to 9999 in UTC, such as 2026-11-27T12:00:00Z',
      {
        extensions: { code: 'BAD_USER_INPUT' },
      },
    );
  }
  return date;
}

/**
 * ISO-8601 in UTC on the way out; any ISO-8601 timestamp with an explicit zone on the way in.
 * Not graphql-scalars' DateTime: it bounds the text, not the UTC year that stored, string-sorted timestamps need.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue: parseTimestamp,
  parseLiteral(node) {
    if (node.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string');
    return parseTimestamp(node.value);
  },
});

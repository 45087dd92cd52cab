import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseTimestamp(value: unknown): Date {
  if (typeof value !== 'string' || !isoTimestamp.test(value) || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError(
      'DateTime must be an ISO-8601 timestamp with a time zone, such as 2026-11-27T12:00:00Z',
      {
        extensions: { code: 'BAD_USER_INPUT' },
      },
    );
  }
  return new Date(value);
}

/** ISO-8601 in UTC on the way out; any ISO-8601 timestamp with an explicit zone on the way in. */
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

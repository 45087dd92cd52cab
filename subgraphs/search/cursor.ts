import { createHmac, timingSafeEqual } from 'node:crypto';
import { quarryError } from '../../server/errors.ts';
import type { SortKey } from './search-index.ts';

/** Where a page ended: the adapter's sort key, and its paging session when it has one. */
export interface CursorPosition {
  sortKey: SortKey;
  session?: string;
}

export interface CursorCodec {
  encode(tenantId: string, queryFingerprint: string, position: CursorPosition): string;
  /** Throws BAD_USER_INPUT unless the cursor was issued by us, for this tenant and this query. */
  decode(tenantId: string, queryFingerprint: string, cursor: string): CursorPosition;
}

/**
 * Room for an Elasticsearch point-in-time id, which grows with the backing
 * indices it spans, while a cursor stays far below any request limit.
 */
const maxCursorLength = 16 * 1024;

function invalidCursor(): never {
  throw quarryError('BAD_USER_INPUT', 'after: cursor is invalid, or was issued for another query', {
    field: 'after',
  });
}

/** A sort key alone is an array; with a session, `{ k, s }`. Both are read back. */
function positionOf(payload: unknown): CursorPosition {
  if (Array.isArray(payload)) return { sortKey: payload as SortKey };
  const { k, s } = (payload ?? {}) as { k?: unknown; s?: unknown };
  if (!Array.isArray(k) || typeof s !== 'string') invalidCursor();
  return { sortKey: k as SortKey, session: s };
}

/**
 * Opaque cursors: the position in the clear, and an HMAC over the tenant, the
 * query and the position. The tenant and query are not in the cursor, so a
 * cursor replayed by another tenant or for another query fails the signature
 * check without revealing anything.
 */
export function createCursorCodec(secret: string): CursorCodec {
  const sign = (tenantId: string, fingerprint: string, payload: string) =>
    createHmac('sha256', secret).update(`${tenantId}\0${fingerprint}\0${payload}`).digest();

  return {
    encode(tenantId, fingerprint, { sortKey, session }) {
      const position = session === undefined ? sortKey : { k: sortKey, s: session };
      const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
      return `${payload}.${sign(tenantId, fingerprint, payload).toString('base64url')}`;
    },
    decode(tenantId, fingerprint, cursor) {
      const [payload, signature, extra] = cursor.split('.');
      if (!payload || !signature || extra !== undefined || cursor.length > maxCursorLength) invalidCursor();
      const expected = sign(tenantId, fingerprint, payload);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) invalidCursor();
      return positionOf(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    },
  };
}

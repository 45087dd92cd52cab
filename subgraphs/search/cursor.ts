import { createHmac, timingSafeEqual } from 'node:crypto';
import { quarryError } from '../../server/errors.ts';
import type { SortKey } from './search-index.ts';

export interface CursorCodec {
  encode(tenantId: string, queryFingerprint: string, sortKey: SortKey): string;
  /** Throws BAD_USER_INPUT unless the cursor was issued by us, for this tenant and this query. */
  decode(tenantId: string, queryFingerprint: string, cursor: string): SortKey;
}

function invalidCursor(): never {
  throw quarryError('BAD_USER_INPUT', 'after: cursor is invalid, or was issued for another query', {
    field: 'after',
  });
}

/**
 * Opaque cursors: the sort key in the clear, and an HMAC over the tenant, the
 * query and the key. The tenant and query are not in the cursor, so a cursor
 * replayed by another tenant or for another query fails the signature check
 * without revealing anything.
 */
export function createCursorCodec(secret: string): CursorCodec {
  const sign = (tenantId: string, fingerprint: string, payload: string) =>
    createHmac('sha256', secret).update(`${tenantId}\0${fingerprint}\0${payload}`).digest();

  return {
    encode(tenantId, fingerprint, sortKey) {
      const payload = Buffer.from(JSON.stringify(sortKey)).toString('base64url');
      return `${payload}.${sign(tenantId, fingerprint, payload).toString('base64url')}`;
    },
    decode(tenantId, fingerprint, cursor) {
      const [payload, signature, extra] = cursor.split('.');
      if (!payload || !signature || extra !== undefined || cursor.length > 1024) invalidCursor();
      const expected = sign(tenantId, fingerprint, payload);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) invalidCursor();
      const sortKey: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      if (!Array.isArray(sortKey)) invalidCursor();
      return sortKey as SortKey;
    },
  };
}

import { createHash } from 'node:crypto';
import { quarryError } from '../../server/errors.ts';
import type { IdempotentWrite } from './document-store.ts';

/** As long as the longest keys clients commonly send (Stripe's limit); a UUID fits many times over. */
export const idempotencyKeyMaxLength = 255;

/** Refuses a key that is empty or too long; null or undefined means the write carries no key. */
export function checkIdempotencyKey(key: string | null | undefined): string | undefined {
  if (key === null || key === undefined) return undefined;
  if (key.length === 0 || key.length > idempotencyKeyMaxLength)
    throw quarryError(
      'BAD_USER_INPUT',
      `idempotencyKey: must be 1 to ${idempotencyKeyMaxLength} characters, such as a UUID`,
      { field: 'idempotencyKey' },
    );
  return key;
}

/**
 * What the store keeps for a keyed mutation. The fingerprint covers the
 * mutation's name and its validated input, so the same key sent with another
 * mutation or other input is refused, while a retry that spells the same input
 * the same way matches.
 */
export function idempotentWrite(
  key: string | null | undefined,
  operation: string,
  input: unknown,
  retentionMs: number,
  now: number = Date.now(),
): IdempotentWrite | undefined {
  const checked = checkIdempotencyKey(key);
  if (checked === undefined) return undefined;
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([operation, input]))
    .digest('base64url');
  return { key: checked, fingerprint, expiresAt: new Date(now + retentionMs) };
}

import { hash } from 'node:crypto';

/**
 * The outbox is split into partitions by tenant, so several indexers can each
 * take some. Every outbox entry stores a 32-bit key hashed from its tenant;
 * its partition is `key % count`, worked out when it is read. The count is
 * therefore only the indexers' setting (OUTBOX_PARTITIONS): changing it moves
 * no stored entry, and entries written before partitions existed carry key 0.
 */
export interface PartitionScope {
  /** How many partitions the outbox is split into. */
  count: number;
  /** The partitions wanted, each in `[0, count)`. */
  partitions: readonly number[];
}

/** Stable across processes and releases: the first four bytes of the tenant's SHA-1. */
export const partitionKeyOf = (tenantId: string): number => hash('sha1', tenantId, 'buffer').readUInt32BE(0);

export const partitionOf = (tenantId: string, count: number): number => partitionKeyOf(tenantId) % count;

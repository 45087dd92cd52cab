import type { PartitionScope } from './partitions.ts';

/** The document as every service sees it. Shared by the documents store, the indexer and the search index. */
export const documentStatuses = ['DRAFT', 'PUBLISHED', 'ARCHIVED'] as const;
export type DocumentStatus = (typeof documentStatuses)[number];

export interface DocumentRecord {
  id: string;
  tenantId: string;
  title: string;
  body: string;
  tags: string[];
  author: string | null;
  status: DocumentStatus;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One committed write, as the outbox records it. Ordered per document by `version`. */
export interface DocumentChange {
  /** Position in the outbox; opaque to consumers except for acknowledging. */
  sequence: string;
  tenantId: string;
  documentId: string;
  version: number;
  operation: 'upsert' | 'delete';
  /** The document as written; null for deletes. */
  document: DocumentRecord | null;
  committedAt: Date;
}

/**
 * The outbox, as the indexer consumes it: at-least-once delivery in commit
 * order. Consumers must apply changes idempotently (by `version`).
 */
export interface ChangeFeed {
  /** The oldest unacknowledged changes, at most `limit`; only those of `scope`'s partitions when given. */
  pull(limit: number, scope?: PartitionScope): Promise<DocumentChange[]>;
  /** Marks changes as applied; they are not delivered again. */
  acknowledge(changes: readonly DocumentChange[]): Promise<void>;
  /** When the oldest unacknowledged change was committed, or null when caught up. */
  oldestPendingAt(): Promise<Date | null>;
}

/** A change the indexer gave up on, kept beside the outbox it came from until an operator retries or drops it. */
export interface DeadLetter {
  /** The outbox entry's own sequence: one dead letter per outbox entry, whichever indexer parked it. */
  id: string;
  change: DocumentChange;
  /** Why the last attempt failed, as the search index said. */
  error: string;
  /** Attempts made before it was parked. */
  attempts: number;
  parkedAt: Date;
}

/** Where poison changes wait, in the same backend as the outbox: parking and retrying move an entry atomically. */
export interface DeadLetterStore {
  /** Moves these outbox entries into the dead letters, each with its error; the outbox no longer delivers them. */
  park(letters: readonly Omit<DeadLetter, 'id' | 'parkedAt'>[]): Promise<void>;
  /** The oldest parked changes first, at most `limit`. */
  listDeadLetters(limit: number): Promise<DeadLetter[]>;
  /** Puts the change back at the end of the outbox; false when no such dead letter exists. */
  retryDeadLetter(id: string): Promise<boolean>;
  /** Forgets the change for good; false when no such dead letter exists. */
  dropDeadLetter(id: string): Promise<boolean>;
  countDeadLetters(): Promise<number>;
}

/** Removing tombstones (the last version of deleted documents) older than the retention, a bounded batch at a time. */
export interface TombstonePruning {
  /** Removes at most `limit` tombstones of deletes committed before `deletedBefore`; returns how many it removed. */
  pruneTombstones(deletedBefore: Date, limit: number): Promise<number>;
}

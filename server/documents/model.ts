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

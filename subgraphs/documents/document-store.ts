import type { ChangeFeed, DocumentRecord, DocumentStatus } from '../../server/documents/model.ts';
import type { ReadOptions } from '../../server/read-options.ts';

export interface NewDocument {
  title: string;
  body: string;
  tags: string[];
  author: string | null;
  status: DocumentStatus;
}

export type DocumentPatch = Partial<NewDocument>;

export class DocumentNotFoundError extends Error {
  override name = 'DocumentNotFoundError';
  readonly isDocumentNotFound = true;
}

export class VersionConflictError extends Error {
  override name = 'VersionConflictError';
  readonly isVersionConflict = true;
  readonly currentVersion: number;
  constructor(currentVersion: number) {
    super(`Document is at version ${currentVersion}`);
    this.currentVersion = currentVersion;
  }
}

export class DocumentExistsError extends Error {
  override name = 'DocumentExistsError';
  readonly isDocumentExists = true;
}

/** A write that would take the tenant past its quota; nothing of it was written. */
export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError';
  readonly isQuotaExceeded = true;
}

/** An idempotency key the tenant already used for a different write; nothing was written. */
export class IdempotencyKeyReusedError extends Error {
  override name = 'IdempotencyKeyReusedError';
}

/**
 * A write that reached the store but whose answer was lost (a commit that timed out or lost its
 * connection, an attempt abandoned at its timeout): it may or may not have been applied. A retry with
 * the write's idempotency key tells which, without writing twice.
 */
export class WriteOutcomeUnknownError extends Error {
  override name = 'WriteOutcomeUnknownError';
}

/** The store's answers, not failures of it: the write certainly did not happen, and the store is healthy. */
export const isStoreAnswer = (error: unknown): boolean =>
  error instanceof VersionConflictError ||
  error instanceof DocumentNotFoundError ||
  error instanceof DocumentExistsError ||
  error instanceof QuotaExceededError ||
  error instanceof IdempotencyKeyReusedError;

/** What one tenant may store. */
export interface TenantQuota {
  maxDocuments: number;
  maxBytes: number;
}

/** What one tenant stores: live documents, and their bytes as `storedBytes` counts them. */
export interface TenantUsage {
  documents: number;
  bytes: number;
}

/** The bytes a document counts against its tenant's quota: its text fields in UTF-8. */
export const storedBytes = (document: Pick<NewDocument, 'title' | 'body' | 'tags' | 'author'>): number =>
  Buffer.byteLength(document.title) +
  Buffer.byteLength(document.body) +
  Buffer.byteLength(JSON.stringify(document.tags)) +
  Buffer.byteLength(document.author ?? '');

/** Refuses a write that would take `usage` past `quota`; a write that shrinks the tenant always passes. */
export function checkQuota(usage: TenantUsage, quota: TenantQuota | undefined, added: TenantUsage): void {
  if (!quota) return;
  if (added.documents > 0 && usage.documents + added.documents > quota.maxDocuments)
    throw new QuotaExceededError(`The tenant's quota of ${quota.maxDocuments} documents is reached`);
  if (added.bytes > 0 && usage.bytes + added.bytes > quota.maxBytes)
    throw new QuotaExceededError(
      `The write would take the tenant past its quota of ${quota.maxBytes} stored bytes (${usage.bytes} used)`,
    );
}

/**
 * A client's idempotency key for one write. The store keeps it, per tenant, in
 * the write's own transaction together with the write's outcome, so a key is
 * never recorded without its write nor a write without its key.
 */
export interface IdempotentWrite {
  key: string;
  /** What the write asked for (operation and input); the same key with another fingerprint is refused. */
  fingerprint: string;
  /** Until then a retry with the key gets the first outcome; after it the key may be used afresh. */
  expiresAt: Date;
}

/** Per write: the quota to hold the tenant to, and the idempotency key, both handled in the write's own transaction. */
export interface WriteOptions {
  quota?: TenantQuota;
  /**
   * With a key still held: the same fingerprint returns the first outcome and
   * writes nothing; another fingerprint throws IdempotencyKeyReusedError.
   */
  idempotency?: IdempotentWrite;
}

/**
 * The documents port. Every method is scoped to one tenant; there is no way
 * to read or write without naming it. Each write commits together with its
 * outbox entry, which the store also serves as a `ChangeFeed`.
 */
export interface DocumentStore extends ChangeFeed {
  /** One backend call for the whole batch; results in `ids` order, null where absent. */
  findByIds(
    tenantId: string,
    ids: readonly string[],
    options?: ReadOptions,
  ): Promise<(DocumentRecord | null)[]>;
  /**
   * Version 1, or, for an id deleted before, one past the delete's version (the
   * index keeps that version and would drop anything older). Throws
   * DocumentExistsError when `id` is given and already taken, and QuotaExceededError
   * past `options.quota`.
   */
  create(
    tenantId: string,
    document: NewDocument,
    id?: string,
    options?: WriteOptions,
  ): Promise<DocumentRecord>;
  /**
   * Throws DocumentNotFoundError, or VersionConflictError when `expectedVersion` is stale, or
   * QuotaExceededError; nothing is written then.
   */
  update(
    tenantId: string,
    id: string,
    patch: DocumentPatch,
    expectedVersion?: number,
    options?: WriteOptions,
  ): Promise<DocumentRecord>;
  /** True when the document existed. */
  delete(tenantId: string, id: string, options?: WriteOptions): Promise<boolean>;
  /** Counted in the same transactions as the writes, so it cannot drift from the documents. */
  usage(tenantId: string): Promise<TenantUsage>;
  close(): Promise<void>;
}

/** Where a scan stopped: the last document it returned. Scans go in (tenantId, id) order. */
export interface ScanPosition {
  tenantId: string;
  id: string;
}

/**
 * Reading every document in a stable order, for rebuilding the search index.
 * Not a tenant-facing port: only the reindex command uses it, never a resolver.
 */
export interface DocumentScan {
  /** At most `limit` documents after `after`, of one tenant or of all. */
  scan(options: { tenantId?: string; after?: ScanPosition; limit: number }): Promise<DocumentRecord[]>;
  count(tenantId?: string): Promise<number>;
}

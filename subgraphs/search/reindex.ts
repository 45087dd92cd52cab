import { randomUUID } from 'node:crypto';
import type { DocumentRecord } from '../../server/documents/model.ts';
import type { DocumentScan, ScanPosition } from '../documents/document-store.ts';

/** Everything a reindex needs to resume after a crash or a restart. */
export interface ReindexCheckpoint {
  runId: string;
  /** Absent for a full reindex. */
  tenantId?: string;
  startedAt: string;
  /** The new backing index of a full reindex. */
  targetIndex?: string;
  /** The last document copied. */
  after?: ScanPosition;
  copied: number;
}

/** Where a reindex writes, and where it keeps its checkpoint. */
export interface ReindexTarget {
  loadCheckpoint(): Promise<ReindexCheckpoint | null>;
  saveCheckpoint(checkpoint: ReindexCheckpoint): Promise<void>;
  clearCheckpoint(): Promise<void>;
  /** Fills in what the run needs (a full reindex names its new index) before the first checkpoint. */
  plan(checkpoint: ReindexCheckpoint): ReindexCheckpoint;
  /** Idempotent: runs again on every resume. */
  prepare(checkpoint: ReindexCheckpoint): Promise<void>;
  copy(documents: DocumentRecord[]): Promise<void>;
  /** Idempotent: the swap (or the clean-up) that makes the rebuilt index the one searched. */
  finish(checkpoint: ReindexCheckpoint): Promise<void>;
}

/** The part of cli-progress's bar that the reindex uses. */
export interface ReindexProgress {
  start(total: number, value: number): void;
  update(value: number): void;
  stop(): void;
}

export class ReindexInProgressError extends Error {
  override name = 'ReindexInProgressError';
}

/**
 * Copies every document (or one tenant's) from the store into the target,
 * saving a checkpoint after each batch. Run again after a crash, it resumes
 * from the checkpoint; copying is idempotent (by version), so a batch copied
 * twice changes nothing.
 */
export async function runReindex({
  scan,
  target,
  tenantId,
  batchSize = 500,
  progress,
}: {
  scan: DocumentScan;
  target: ReindexTarget;
  tenantId?: string;
  batchSize?: number;
  progress: ReindexProgress;
}): Promise<{ copied: number; resumed: boolean }> {
  let checkpoint = await target.loadCheckpoint();
  const resumed = checkpoint !== null;
  if (checkpoint && checkpoint.tenantId !== tenantId) {
    const running =
      checkpoint.tenantId === undefined ? 'a full reindex' : `a reindex of ${checkpoint.tenantId}`;
    throw new ReindexInProgressError(
      `${running} is in progress: run it again with the same arguments to finish it`,
    );
  }
  if (!checkpoint) {
    checkpoint = target.plan({
      runId: randomUUID(),
      ...(tenantId === undefined ? {} : { tenantId }),
      startedAt: new Date().toISOString(),
      copied: 0,
    });
    await target.saveCheckpoint(checkpoint);
  }
  await target.prepare(checkpoint);

  progress.start(await scan.count(tenantId), checkpoint.copied);
  try {
    for (;;) {
      const documents = await scan.scan({
        limit: batchSize,
        ...(tenantId === undefined ? {} : { tenantId }),
        ...(checkpoint.after ? { after: checkpoint.after } : {}),
      });
      const last = documents.at(-1);
      if (!last) break;
      await target.copy(documents);
      checkpoint = {
        ...checkpoint,
        after: { tenantId: last.tenantId, id: last.id },
        copied: checkpoint.copied + documents.length,
      };
      await target.saveCheckpoint(checkpoint);
      progress.update(checkpoint.copied);
    }
  } finally {
    progress.stop();
  }
  await target.finish(checkpoint);
  await target.clearCheckpoint();
  return { copied: checkpoint.copied, resumed };
}

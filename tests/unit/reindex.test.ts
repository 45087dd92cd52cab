import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { DocumentRecord } from '../../server/documents/model.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';
import {
  type ReindexCheckpoint,
  ReindexInProgressError,
  type ReindexTarget,
  runReindex,
} from '../../subgraphs/search/reindex.ts';

let directory: string;
let db: EmbeddedDatabase;
let store: SqliteDocumentStore;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'quarry-reindex-'));
  db = new EmbeddedDatabase(join(directory, 'quarry.db'));
  store = new SqliteDocumentStore(db);
  for (const tenant of ['a', 'b']) {
    for (let i = 0; i < 7; i += 1) {
      await store.create(
        tenant,
        { title: `${tenant}${i}`, body: '', tags: [], author: null, status: 'DRAFT' },
        `d${i}`,
      );
    }
  }
});

afterEach(async () => {
  db.close();
  await rm(directory, { recursive: true, force: true });
});

/** A target whose checkpoint survives "restarts" (new runReindex calls) and that can crash on a chosen batch. */
function fakeTarget() {
  const state = {
    checkpoint: null as ReindexCheckpoint | null,
    copied: [] as string[],
    prepared: 0,
    finished: [] as ReindexCheckpoint[],
    crashOnBatch: -1,
    batches: 0,
  };
  const target: ReindexTarget = {
    loadCheckpoint: async () => state.checkpoint,
    saveCheckpoint: async (checkpoint) => {
      state.checkpoint = structuredClone(checkpoint);
    },
    clearCheckpoint: async () => {
      state.checkpoint = null;
    },
    plan: (checkpoint) => ({ ...checkpoint, targetIndex: 'new-index' }),
    prepare: async () => {
      state.prepared += 1;
    },
    copy: async (documents: DocumentRecord[]) => {
      state.batches += 1;
      if (state.batches === state.crashOnBatch) throw new Error('killed mid-run');
      state.copied.push(...documents.map((document) => `${document.tenantId}/${document.id}`));
    },
    finish: async (checkpoint) => {
      state.finished.push(checkpoint);
    },
  };
  return { target, state };
}

const quietProgress = () => {
  const seen: number[] = [];
  return {
    seen,
    start: (_total: number, value: number) => seen.push(value),
    update: (value: number) => seen.push(value),
    stop() {},
  };
};

it('resumes from its checkpoint after a crash, copies everything, and swaps once', async () => {
  const { target, state } = fakeTarget();
  state.crashOnBatch = 3;
  await expect(runReindex({ scan: store, target, batchSize: 3, progress: quietProgress() })).rejects.toThrow(
    'killed mid-run',
  );
  expect(state.copied).toHaveLength(6);
  expect(state.checkpoint).toMatchObject({
    copied: 6,
    after: { tenantId: 'a', id: 'd5' },
    targetIndex: 'new-index',
  });
  expect(state.finished).toEqual([]);

  const progress = quietProgress();
  const result = await runReindex({ scan: store, target, batchSize: 3, progress });
  expect(result).toEqual({ copied: 14, resumed: true });
  expect(progress.seen[0]).toBe(6);
  expect(state.copied).toHaveLength(14);
  expect(new Set(state.copied).size).toBe(14);
  expect(state.prepared).toBe(2);
  expect(state.finished).toHaveLength(1);
  expect(state.finished[0]?.targetIndex).toBe('new-index');
  expect(state.checkpoint).toBeNull();
});

it('rebuilds one tenant only, and refuses to start another run over an unfinished one', async () => {
  const { target, state } = fakeTarget();
  state.crashOnBatch = 2;
  await expect(
    runReindex({ scan: store, target, tenantId: 'b', batchSize: 4, progress: quietProgress() }),
  ).rejects.toThrow();
  await expect(runReindex({ scan: store, target, progress: quietProgress() })).rejects.toBeInstanceOf(
    ReindexInProgressError,
  );
  await runReindex({ scan: store, target, tenantId: 'b', batchSize: 4, progress: quietProgress() });
  expect(state.copied.every((key) => key.startsWith('b/'))).toBe(true);
  expect(state.copied).toHaveLength(7);
});

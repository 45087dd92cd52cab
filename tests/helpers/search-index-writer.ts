import { workerData } from 'node:worker_threads';
import type { DocumentChange } from '../../server/documents/model.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteSearchIndex } from '../../subgraphs/search/adapters/sqlite-search-index.ts';

/**
 * The indexer's side of a snapshot test, on its own connection in its own
 * thread: each batch deletes generation n - 1 and indexes generation n in one
 * transaction, so a consistent reader always sees exactly `size` documents of
 * one generation. `control[0]` set to 1 stops it; `control[1]` counts batches.
 */
export interface WriterData {
  path: string;
  tenantId: string;
  size: number;
  control: Int32Array;
}

const { path, tenantId, size, control } = workerData as WriterData;
const at = new Date('2024-05-01T00:00:00.000Z');
const generation = (n: number, operation: 'upsert' | 'delete'): DocumentChange[] =>
  Array.from({ length: size }, (_, i) => {
    const id = `g${n}-${i}`;
    const version = operation === 'upsert' ? 1 : 2;
    const document = { id, tenantId, title: `Steady ${n}`, body: '', tags: [`g${n}`], author: null };
    return {
      sequence: `${id}/${version}`,
      tenantId,
      documentId: id,
      version,
      operation,
      document:
        operation === 'upsert'
          ? { ...document, status: 'PUBLISHED', version, createdAt: at, updatedAt: at }
          : null,
      committedAt: at,
    };
  });

const db = new EmbeddedDatabase(path);
const index = new SqliteSearchIndex(db);
for (let n = 1; Atomics.load(control, 0) === 0; n += 1) {
  await index.apply([...generation(n - 1, 'delete'), ...generation(n, 'upsert')]);
  Atomics.store(control, 1, n);
}
db.close();

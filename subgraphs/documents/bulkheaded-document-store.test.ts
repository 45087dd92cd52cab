import { describe, expect, it } from 'vitest';
import { createTenantBulkheads } from '../../server/resilience/tenant-bulkheads.ts';
import { bulkheadedDocumentStore } from './bulkheaded-document-store.ts';
import type { DocumentStore } from './document-store.ts';

/** A store that records the arguments of every call. */
function recordingStore() {
  const calls: Record<string, unknown[]> = {};
  const record =
    (name: string, answer: unknown) =>
    async (...args: unknown[]) => {
      calls[name] = args;
      return answer;
    };
  const store = {
    findByIds: record('findByIds', []),
    create: record('create', {}),
    update: record('update', {}),
    delete: record('delete', true),
    usage: record('usage', {}),
    pull: record('pull', []),
    acknowledge: record('acknowledge', undefined),
    oldestPendingAt: record('oldestPendingAt', null),
    close: record('close', undefined),
  } as unknown as DocumentStore;
  return { store, calls };
}

describe('the documents store within tenant bulkheads', () => {
  it('passes every argument on, options included (an idempotency key, a partition scope, a signal)', async () => {
    const { store, calls } = recordingStore();
    const bulkheaded = bulkheadedDocumentStore(
      store,
      createTenantBulkheads({ dependency: 'documents-store' }),
    );
    const idempotency = { idempotency: { key: 'k', fingerprint: 'f', expiresAt: new Date() } };
    const signal = new AbortController().signal;
    await bulkheaded.delete('t', 'd1', idempotency);
    await bulkheaded.create('t', { title: 'x', body: '' } as never, 'd2', idempotency);
    await bulkheaded.update('t', 'd3', { title: 'y' }, 4, idempotency);
    await (bulkheaded.findByIds as (...args: unknown[]) => Promise<unknown>)('t', ['d1'], { signal });
    await bulkheaded.pull(10, { partitions: [1, 2], count: 4 } as never);
    expect(calls.delete).toEqual(['t', 'd1', idempotency]);
    expect(calls.create).toEqual(['t', { title: 'x', body: '' }, 'd2', idempotency]);
    expect(calls.update).toEqual(['t', 'd3', { title: 'y' }, 4, idempotency]);
    expect(calls.findByIds).toEqual(['t', ['d1'], { signal }]);
    expect(calls.pull).toEqual([10, { partitions: [1, 2], count: 4 }]);
  });
});

import { describe, expect, it } from 'vitest';
import { createResilience, DependencyUnavailableError } from '../../server/resilience/index.ts';
import { type DocumentStore, VersionConflictError } from '../../subgraphs/documents/document-store.ts';
import { resilientDocumentStore } from '../../subgraphs/documents/resilient-document-store.ts';
import { resilientSearchIndex } from '../../subgraphs/search/resilient-search-index.ts';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';
import { createFaultSwitch } from '../helpers/faults.ts';

const options = { readAttempts: 3, retryInitialDelayMs: 1, failureThreshold: 100, timeoutMs: 200 };

describe('resilient ports', () => {
  it('retries document reads and never document writes', async () => {
    const calls: string[] = [];
    const failing = new Proxy({} as DocumentStore, {
      get: (_, method: string) => async () => {
        calls.push(method);
        throw new Error('ECONNREFUSED');
      },
    });
    const resilience = createResilience(options);
    const store = resilientDocumentStore(failing, {
      reads: resilience.policy('documents-store'),
      writes: resilience.policy('documents-store-writes'),
    });
    await expect(store.findByIds('t', ['1'])).rejects.toBeInstanceOf(DependencyUnavailableError);
    for (const write of [
      () => store.create('t', { title: 't', body: '', tags: [], author: null, status: 'DRAFT' }),
      () => store.update('t', '1', { title: 'x' }),
      () => store.delete('t', '1'),
      () => store.acknowledge([]),
    ]) {
      await expect(write()).rejects.toBeInstanceOf(DependencyUnavailableError);
    }
    expect(calls).toEqual([
      'findByIds',
      'findByIds',
      'findByIds',
      'create',
      'update',
      'delete',
      'acknowledge',
    ]);
  });

  it('passes a version conflict through as an answer, not an outage', async () => {
    const resilience = createResilience({ ...options, failureThreshold: 1 });
    const conflicting = {
      update: async () => Promise.reject(new VersionConflictError(3)),
    } as unknown as DocumentStore;
    const store = resilientDocumentStore(conflicting, {
      reads: resilience.policy('documents-store'),
      writes: resilience.policy('documents-store-writes'),
    });
    await expect(store.update('t', '1', {}, 1)).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store.update('t', '1', {}, 1)).rejects.toBeInstanceOf(VersionConflictError);
    expect(resilience.states()['documents-store-writes']).toBe('closed');
  });

  it('keeps serving reads while writes fail: the two have breakers of their own', async () => {
    const resilience = createResilience({ ...options, failureThreshold: 2 });
    const diskFull = {
      create: async () => Promise.reject(new Error('database or disk is full')),
      findByIds: async () => [null],
    } as unknown as DocumentStore;
    const store = resilientDocumentStore(diskFull, {
      reads: resilience.policy('documents-store'),
      writes: resilience.policy('documents-store-writes'),
    });
    const draft = { title: 't', body: '', tags: [], author: null, status: 'DRAFT' as const };
    for (let attempt = 0; attempt < 3; attempt++)
      await expect(store.create('t', draft)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(resilience.states()).toMatchObject({ 'documents-store-writes': 'open' });
    await expect(store.findByIds('t', ['1'])).resolves.toEqual([null]);
    expect(resilience.states()['documents-store']).toBe('closed');
  });

  it('retries searches and never applies', async () => {
    const faults = createFaultSwitch();
    faults.set('down');
    const inner = faults.wrap({
      search: async () => ({ total: 0, hits: [], facets: [], hasNextPage: false }),
      suggest: async () => [],
      apply: async () => ({ rejected: [] }),
      close: async () => {},
    } satisfies SearchIndex);
    const index = resilientSearchIndex(inner, createResilience(options).policy('search-index'));
    await expect(index.suggest('t', 'a', 5)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(faults.calls()).toBe(3);
    await expect(index.apply([])).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(faults.calls()).toBe(4);
  });
});

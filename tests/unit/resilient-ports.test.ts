import { describe, expect, it } from 'vitest';
import { createResilience, DependencyUnavailableError } from '../../server/resilience/index.ts';
import {
  type DocumentStore,
  VersionConflictError,
  WriteOutcomeUnknownError,
} from '../../subgraphs/documents/document-store.ts';
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

  describe("a client's write that may have been applied", () => {
    const draft = { title: 't', body: '', tags: [], author: null, status: 'DRAFT' as const };
    const storeOf = (inner: Partial<DocumentStore>, resilience = createResilience(options)) =>
      resilientDocumentStore(inner as DocumentStore, {
        reads: resilience.policy('documents-store'),
        writes: resilience.policy('documents-store-writes'),
      });

    it('is WriteOutcomeUnknownError when the attempt was abandoned at its timeout, still running', async () => {
      const hung = Promise.withResolvers<never>();
      const store = storeOf({
        create: () => hung.promise,
        update: () => hung.promise,
        delete: () => hung.promise,
      });
      try {
        await expect(store.create('t', draft)).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
        await expect(store.update('t', '1', { title: 'x' })).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
        await expect(store.delete('t', '1')).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
      } finally {
        hung.reject(new Error('released'));
      }
    });

    it("is the store's own WriteOutcomeUnknownError, counted against the write breaker", async () => {
      const resilience = createResilience({ ...options, failureThreshold: 2 });
      const lost = new WriteOutcomeUnknownError('commit unconfirmed');
      const store = storeOf({ create: async () => Promise.reject(lost) }, resilience);
      await expect(store.create('t', draft)).rejects.toBe(lost);
      await expect(store.create('t', draft)).rejects.toBe(lost);
      expect(resilience.states()['documents-store-writes']).toBe('open');
      // Refused by the open breaker: never sent, so the outage it is.
      await expect(store.create('t', draft)).rejects.toMatchObject({ breakerOpen: true });
      await expect(store.create('t', draft)).rejects.toBeInstanceOf(DependencyUnavailableError);
    });

    it('is not claimed for a write the store refused outright', async () => {
      const store = storeOf({ create: async () => Promise.reject(new Error('ECONNREFUSED')) });
      await expect(store.create('t', draft)).rejects.toBeInstanceOf(DependencyUnavailableError);
    });
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

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetterStore, TombstonePruning } from '../../server/documents/model.ts';
import { partitionOf } from '../../server/documents/partitions.ts';
import {
  DocumentExistsError,
  DocumentNotFoundError,
  type DocumentScan,
  type DocumentStore,
  IdempotencyKeyReusedError,
  type IdempotentWrite,
  type NewDocument,
  QuotaExceededError,
  storedBytes,
  VersionConflictError,
} from '../../subgraphs/documents/document-store.ts';

const draft = (title: string, fields: Partial<NewDocument> = {}): NewDocument => ({
  title,
  body: `Body of ${title}`,
  tags: [],
  author: null,
  status: 'DRAFT',
  ...fields,
});

/** A key held for an hour unless `expiresAt` says otherwise; the fingerprint stands for the write's input. */
const keyed = (key: string, fingerprint: string, expiresAt = new Date(Date.now() + 3_600_000)) => ({
  idempotency: { key, fingerprint, expiresAt } satisfies IdempotentWrite,
});

/** Drains the whole outbox, acknowledging it, and returns what it held. */
async function drainOutbox(store: DocumentStore) {
  const changes = await store.pull(1000);
  await store.acknowledge(changes);
  return changes;
}

type ContractStore = DocumentStore & DocumentScan & DeadLetterStore & TombstonePruning;

/**
 * What every DocumentStore backend must do, through the port only. Each
 * backend's test file calls this with a factory for a fresh, empty store.
 */
export function describeDocumentStoreContract(
  backendName: string,
  createStore: () => Promise<{ store: ContractStore; cleanup(): Promise<void> }>,
) {
  describe(`DocumentStore contract: ${backendName}`, () => {
    let store: ContractStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await createStore());
    });

    afterEach(async () => {
      await cleanup();
    });

    describe('create and read', () => {
      it('creates version 1 and reads it back with every field', async () => {
        const created = await store.create(
          't',
          draft('Kubernetes runbook', { tags: ['ops', 'k8s'], author: 'ada', status: 'PUBLISHED' }),
        );
        expect(created).toMatchObject({
          tenantId: 't',
          title: 'Kubernetes runbook',
          tags: ['ops', 'k8s'],
          author: 'ada',
          status: 'PUBLISHED',
          version: 1,
        });
        expect(created.id).toMatch(/\S/);
        expect(created.createdAt.getTime()).toBe(created.updatedAt.getTime());
        const [read] = await store.findByIds('t', [created.id]);
        expect(read).toEqual(created);
      });

      it('returns a batch in the order asked, with null for misses and for other tenants', async () => {
        const a = await store.create('t', draft('A'), 'a');
        const b = await store.create('t', draft('B'), 'b');
        await store.create('other', draft('Theirs'), 'theirs');
        const found = await store.findByIds('t', ['b', 'missing', 'a', 'theirs', 'b']);
        expect(found.map((doc) => doc?.id ?? null)).toEqual(['b', null, 'a', null, 'b']);
        expect(found[0]).toEqual(b);
        expect(found[2]).toEqual(a);
        expect(await store.findByIds('t', [])).toEqual([]);
      });

      it('refuses an id that is taken in the same tenant, and writes nothing', async () => {
        await store.create('t', draft('First'), 'same');
        await drainOutbox(store);
        await expect(store.create('t', draft('Second'), 'same')).rejects.toBeInstanceOf(DocumentExistsError);
        const [kept] = await store.findByIds('t', ['same']);
        expect(kept?.title).toBe('First');
        expect(await store.pull(10)).toEqual([]);
      });

      it('keeps the same id apart in two tenants', async () => {
        await store.create('t1', draft('One'), 'shared-id');
        await store.create('t2', draft('Two'), 'shared-id');
        expect((await store.findByIds('t1', ['shared-id']))[0]?.title).toBe('One');
        expect((await store.findByIds('t2', ['shared-id']))[0]?.title).toBe('Two');
      });
    });

    describe('update', () => {
      it('changes only the given fields and bumps the version', async () => {
        const created = await store.create('t', draft('Title', { tags: ['x'], author: 'ada' }), 'd');
        const updated = await store.update('t', 'd', { status: 'PUBLISHED', author: undefined });
        expect(updated).toMatchObject({
          id: 'd',
          title: 'Title',
          tags: ['x'],
          author: 'ada',
          status: 'PUBLISHED',
          version: 2,
        });
        expect(updated.createdAt.getTime()).toBe(created.createdAt.getTime());
        expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());
        expect((await store.findByIds('t', ['d']))[0]).toEqual(updated);
        const cleared = await store.update('t', 'd', { author: null }, 2);
        expect(cleared).toMatchObject({ author: null, version: 3 });
      });

      it("reports a missing document, including another tenant's", async () => {
        await store.create('other', draft('Theirs'), 'theirs');
        await expect(store.update('t', 'missing', { title: 'x' })).rejects.toBeInstanceOf(
          DocumentNotFoundError,
        );
        await expect(store.update('t', 'theirs', { title: 'Mine now' })).rejects.toBeInstanceOf(
          DocumentNotFoundError,
        );
        expect((await store.findByIds('other', ['theirs']))[0]?.title).toBe('Theirs');
      });

      it('refuses a stale expected version with the current one, and writes nothing', async () => {
        await store.create('t', draft('V1'), 'd');
        await store.update('t', 'd', { title: 'V2' }, 1);
        await drainOutbox(store);
        const failure = await store.update('t', 'd', { title: 'Lost' }, 1).catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(VersionConflictError);
        expect((failure as VersionConflictError).currentVersion).toBe(2);
        expect((await store.findByIds('t', ['d']))[0]).toMatchObject({ title: 'V2', version: 2 });
        expect(await store.pull(10)).toEqual([]);
      });

      it('lets exactly one of two racing updates with the same expected version win', async () => {
        await store.create('t', draft('Start'), 'd');
        const results = await Promise.allSettled([
          store.update('t', 'd', { title: 'Left' }, 1),
          store.update('t', 'd', { title: 'Right' }, 1),
        ]);
        const won = results.filter((result) => result.status === 'fulfilled');
        const lost = results.filter((result) => result.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflictError);
        expect((await store.findByIds('t', ['d']))[0]?.version).toBe(2);
      });
    });

    describe('delete', () => {
      it("deletes once, and never another tenant's document", async () => {
        await store.create('t', draft('Mine'), 'd');
        await store.create('other', draft('Theirs'), 'd');
        expect(await store.delete('t', 'd')).toBe(true);
        expect(await store.delete('t', 'd')).toBe(false);
        expect(await store.findByIds('t', ['d'])).toEqual([null]);
        expect((await store.findByIds('other', ['d']))[0]?.title).toBe('Theirs');
      });

      it("creates a deleted id again after the delete's version, per tenant", async () => {
        await store.create('t', draft('First life'), 'd');
        await store.update('t', 'd', { title: 'Edited' });
        await store.delete('t', 'd');
        await drainOutbox(store);

        // The index holds the delete at version 3: a second life starting at 1 would be ordered before it, and dropped.
        const again = await store.create('t', draft('Second life'), 'd');
        expect(again.version).toBe(4);
        expect((await store.findByIds('t', ['d']))[0]).toMatchObject({ title: 'Second life', version: 4 });
        expect((await drainOutbox(store)).map((change) => [change.version, change.operation])).toEqual([
          [4, 'upsert'],
        ]);
        expect((await store.create('other', draft('Elsewhere'), 'd')).version).toBe(1);

        await expect(store.create('t', draft('Taken'), 'd')).rejects.toBeInstanceOf(DocumentExistsError);
        await store.delete('t', 'd');
        expect((await store.create('t', draft('Third life'), 'd')).version).toBe(6);
      });
    });

    describe('outbox', () => {
      it('records every write with its version; a delete is a version of its own without a document', async () => {
        await store.create('t', draft('One', { tags: ['a'] }), 'd');
        await store.update('t', 'd', { title: 'Two' });
        await store.delete('t', 'd');
        const changes = await store.pull(10);
        const byVersion = [...changes].sort((a, b) => a.version - b.version);
        expect(
          byVersion.map((change) => [change.tenantId, change.documentId, change.version, change.operation]),
        ).toEqual([
          ['t', 'd', 1, 'upsert'],
          ['t', 'd', 2, 'upsert'],
          ['t', 'd', 3, 'delete'],
        ]);
        expect(byVersion[0]?.document).toMatchObject({ title: 'One', tags: ['a'], version: 1 });
        expect(byVersion[1]?.document).toMatchObject({ title: 'Two', version: 2 });
        expect(byVersion[2]?.document).toBeNull();
        for (const change of changes) expect(change.committedAt).toBeInstanceOf(Date);
        expect(new Set(changes.map((change) => change.sequence)).size).toBe(3);
      });

      it('delivers at most `limit`, and again until acknowledged', async () => {
        for (const id of ['a', 'b', 'c']) await store.create('t', draft(id), id);
        const first = await store.pull(2);
        expect(first).toHaveLength(2);
        expect((await store.pull(2)).map((change) => change.sequence)).toEqual(
          first.map((change) => change.sequence),
        );
      });

      it('forgets exactly the acknowledged changes', async () => {
        for (const id of ['a', 'b', 'c']) await store.create('t', draft(id), id);
        const all = await store.pull(10);
        const middle = all.find((change) => change.documentId === 'b');
        await store.acknowledge(middle ? [middle] : []);
        const rest = await store.pull(10);
        expect(rest.map((change) => change.documentId).sort()).toEqual(['a', 'c']);
        await store.acknowledge(rest);
        await store.acknowledge(rest);
        await store.acknowledge([]);
        expect(await store.pull(10)).toEqual([]);
      });

      it("delivers a partition's changes only to a pull of that partition, and every change to exactly one partition", async () => {
        const count = 4;
        const tenants = Array.from({ length: 12 }, (_, i) => `tenant-${i}`);
        for (const tenant of tenants) await store.create(tenant, draft(tenant), 'd');
        const byPartition = await Promise.all(
          Array.from({ length: count }, (_, partition) =>
            store.pull(100, { count, partitions: [partition] }),
          ),
        );
        byPartition.forEach((changes, partition) => {
          for (const change of changes) expect(partitionOf(change.tenantId, count)).toBe(partition);
        });
        expect(
          byPartition
            .flat()
            .map((change) => change.tenantId)
            .sort(),
        ).toEqual([...tenants].sort());
        // The tenants land in more than one partition, or the split would spread nothing.
        expect(byPartition.filter((changes) => changes.length > 0).length).toBeGreaterThan(1);
        const held = [0, 2];
        expect(
          (await store.pull(100, { count, partitions: held })).map((change) => change.tenantId).sort(),
        ).toEqual(tenants.filter((tenant) => held.includes(partitionOf(tenant, count))).sort());
        expect(await store.pull(100, { count, partitions: [] })).toEqual([]);
      });

      it('tells when the oldest pending change was committed', async () => {
        expect(await store.oldestPendingAt()).toBeNull();
        const created = await store.create('t', draft('Pending'), 'p');
        expect((await store.oldestPendingAt())?.getTime()).toBe(created.updatedAt.getTime());
        await drainOutbox(store);
        expect(await store.oldestPendingAt()).toBeNull();
      });
    });

    describe('dead letters', () => {
      /** Creates documents and parks the outbox entry of `parked` with an error. */
      async function parkOne(ids: string[], parked: string) {
        for (const id of ids) await store.create('t', draft(`Title ${id}`), id);
        const change = (await store.pull(10)).find((pending) => pending.documentId === parked);
        if (!change) throw new Error(`no outbox entry for ${parked}`);
        await store.park([{ change, error: '400 mapper_parsing_exception: bad field', attempts: 1 }]);
        return change;
      }

      it('parks an outbox entry with its error: the outbox stops delivering it, the rest stays', async () => {
        const change = await parkOne(['a', 'b'], 'a');
        expect((await store.pull(10)).map((pending) => pending.documentId)).toEqual(['b']);
        expect(await store.countDeadLetters()).toBe(1);
        const [letter] = await store.listDeadLetters(10);
        expect(letter).toMatchObject({
          id: change.sequence,
          error: '400 mapper_parsing_exception: bad field',
          attempts: 1,
          change: { tenantId: 't', documentId: 'a', version: 1, operation: 'upsert' },
        });
        expect(letter?.change.document).toMatchObject({ title: 'Title a', version: 1 });
        expect(letter?.parkedAt).toBeInstanceOf(Date);
      });

      it('puts a retried dead letter back in the outbox, same version, once', async () => {
        const change = await parkOne(['a'], 'a');
        expect(await store.retryDeadLetter(change.sequence)).toBe(true);
        expect(await store.retryDeadLetter(change.sequence)).toBe(false);
        expect(await store.listDeadLetters(10)).toEqual([]);
        const [again] = await store.pull(10);
        expect(again).toMatchObject({ tenantId: 't', documentId: 'a', version: 1, operation: 'upsert' });
        // In its tenant's partition again, where the indexer holding that partition finds it.
        const count = 8;
        const scope = { count, partitions: [partitionOf('t', count)] };
        expect((await store.pull(10, scope)).map((change) => change.documentId)).toEqual(['a']);
        expect(again?.document).toMatchObject({ title: 'Title a' });
        expect(again?.committedAt.getTime()).toBe(change.committedAt.getTime());
      });

      it('drops a dead letter for good', async () => {
        const change = await parkOne(['a'], 'a');
        expect(await store.dropDeadLetter(change.sequence)).toBe(true);
        expect(await store.dropDeadLetter(change.sequence)).toBe(false);
        expect(await store.countDeadLetters()).toBe(0);
        expect(await store.pull(10)).toEqual([]);
      });

      it('parks nothing for an entry another indexer acknowledged meanwhile', async () => {
        await store.create('t', draft('Done'), 'a');
        const changes = await store.pull(10);
        await store.acknowledge(changes);
        await store.park(changes.map((change) => ({ change, error: 'late', attempts: 5 })));
        expect(await store.listDeadLetters(10)).toEqual([]);
      });
    });

    describe('tombstone pruning', () => {
      it('prunes tombstones of deletes before the cutoff, a bounded batch at a time; the id then starts again at 1', async () => {
        for (const id of ['a', 'b', 'c']) {
          await store.create('t', draft(id), id);
          await store.delete('t', id);
        }
        const later = new Date(Date.now() + 60_000);
        expect(await store.pruneTombstones(later, 2)).toBe(2);
        expect(await store.pruneTombstones(later, 2)).toBe(1);
        expect(await store.pruneTombstones(later, 2)).toBe(0);
        expect((await store.create('t', draft('New life'), 'a')).version).toBe(1);
      });

      it('keeps a tombstone until its delete is older than the cutoff', async () => {
        await store.create('t', draft('Doomed'), 'd');
        await store.delete('t', 'd');
        const deleted = (await store.pull(10)).find((change) => change.operation === 'delete');
        if (!deleted) throw new Error('no delete in the outbox');
        expect(await store.pruneTombstones(deleted.committedAt, 10)).toBe(0);
        expect(await store.pruneTombstones(new Date(deleted.committedAt.getTime() + 1), 10)).toBe(1);
      });
    });

    describe('scan', () => {
      beforeEach(async () => {
        for (const [tenant, id] of [
          ['b', '2'],
          ['a', '2'],
          ['b', '1'],
          ['a', '1'],
          ['c', '1'],
        ] as const) {
          await store.create(tenant, draft(`${tenant}${id}`), id);
        }
      });

      const keys = (docs: { tenantId: string; id: string }[]) =>
        docs.map((doc) => `${doc.tenantId}/${doc.id}`);

      it('visits every document once in (tenant, id) order, page by page', async () => {
        const first = await store.scan({ limit: 2 });
        expect(keys(first)).toEqual(['a/1', 'a/2']);
        const last = first.at(-1);
        const second = await store.scan({ limit: 10, ...(last ? { after: last } : {}) });
        expect(keys(second)).toEqual(['b/1', 'b/2', 'c/1']);
        expect(await store.count()).toBe(5);
      });

      it('scans one tenant only when asked', async () => {
        expect(keys(await store.scan({ tenantId: 'b', limit: 10 }))).toEqual(['b/1', 'b/2']);
        expect(
          keys(await store.scan({ tenantId: 'b', limit: 10, after: { tenantId: 'b', id: '1' } })),
        ).toEqual(['b/2']);
        expect(await store.count('b')).toBe(2);
        expect(await store.count('nobody')).toBe(0);
      });
    });

    describe('idempotency keys', () => {
      it('answers a retried create with its first outcome, writing nothing again', async () => {
        const first = await store.create('t', draft('Once'), undefined, keyed('k1', 'create-once'));
        const retried = await store.create('t', draft('Once'), undefined, keyed('k1', 'create-once'));
        expect(retried).toEqual(first);
        expect(await store.count('t')).toBe(1);
        expect(await store.usage('t')).toMatchObject({ documents: 1 });
        expect((await drainOutbox(store)).map((change) => change.documentId)).toEqual([first.id]);
      });

      it('refuses the same key with other input, writing nothing', async () => {
        await store.create('t', draft('Once'), undefined, keyed('k1', 'create-once'));
        await drainOutbox(store);
        await expect(
          store.create('t', draft('Other'), undefined, keyed('k1', 'create-other')),
        ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
        await expect(store.delete('t', 'x', keyed('k1', 'delete-x'))).rejects.toBeInstanceOf(
          IdempotencyKeyReusedError,
        );
        expect(await store.count('t')).toBe(1);
        expect(await store.pull(10)).toEqual([]);
      });

      it('keeps keys per tenant', async () => {
        const mine = await store.create('t1', draft('Mine'), undefined, keyed('shared', 'same-input'));
        const theirs = await store.create('t2', draft('Mine'), undefined, keyed('shared', 'same-input'));
        expect(theirs.id).not.toBe(mine.id);
        expect(theirs.tenantId).toBe('t2');
        await store.create('t3', draft('Other'), undefined, keyed('shared', 'other-input'));
        expect([await store.count('t1'), await store.count('t2'), await store.count('t3')]).toEqual([
          1, 1, 1,
        ]);
      });

      it('answers a retried update and delete with their first outcomes', async () => {
        await store.create('t', draft('Draft'), 'd');
        const updated = await store.update('t', 'd', { title: 'Edited' }, 1, keyed('u', 'edit'));
        // The retry carries the same (now stale) expected version, and still gets the first answer.
        expect(await store.update('t', 'd', { title: 'Edited' }, 1, keyed('u', 'edit'))).toEqual(updated);
        expect(await store.delete('t', 'd', keyed('del', 'delete-d'))).toBe(true);
        expect(await store.delete('t', 'd', keyed('del', 'delete-d'))).toBe(true);
        // A missing document's answer is kept too: creating the id again does not make the retry delete it.
        expect(await store.delete('t', 'gone', keyed('del-gone', 'delete-gone'))).toBe(false);
        await store.create('t', draft('Back'), 'gone');
        expect(await store.delete('t', 'gone', keyed('del-gone', 'delete-gone'))).toBe(false);
        expect((await drainOutbox(store)).map((change) => [change.documentId, change.version])).toEqual([
          ['d', 1],
          ['d', 2],
          ['d', 3],
          ['gone', 1],
        ]);
      });

      it('keeps nothing for a refused write, so its retry is judged afresh', async () => {
        await store.create('t', draft('Draft'), 'd');
        await expect(
          store.update('t', 'd', { title: 'Late' }, 7, keyed('u', 'stale-edit')),
        ).rejects.toBeInstanceOf(VersionConflictError);
        await expect(
          store.update('t', 'd', { title: 'Late' }, 7, keyed('u', 'stale-edit')),
        ).rejects.toBeInstanceOf(VersionConflictError);
        expect((await store.findByIds('t', ['d']))[0]?.version).toBe(1);
      });

      it('lets a key be used afresh once its retention is over', async () => {
        const past = new Date(Date.now() - 1000);
        const first = await store.create('t', draft('Old'), undefined, keyed('k', 'old', past));
        const again = await store.create('t', draft('New'), undefined, keyed('k', 'new'));
        expect(again.id).not.toBe(first.id);
        expect(await store.create('t', draft('New'), undefined, keyed('k', 'new'))).toEqual(again);
        expect(await store.count('t')).toBe(2);
      });

      it('writes once when the same keyed write races itself', async () => {
        const results = await Promise.all(
          Array.from({ length: 4 }, () =>
            store.create('t', draft('Racing'), undefined, keyed('race', 'racing')),
          ),
        );
        expect(new Set(results.map((result) => result.id)).size).toBe(1);
        expect(await store.count('t')).toBe(1);
        expect(await store.pull(10)).toHaveLength(1);
      });
    });

    describe('usage and quotas', () => {
      const big = draft('Big', { body: 'x'.repeat(1000) });

      it('counts live documents and their bytes per tenant, through creates, updates and deletes', async () => {
        expect(await store.usage('t')).toEqual({ documents: 0, bytes: 0 });
        const a = await store.create('t', draft('A'), 'a');
        await store.create('t', big, 'big');
        await store.create('other', draft('Theirs'));
        expect(await store.usage('t')).toEqual({ documents: 2, bytes: storedBytes(a) + storedBytes(big) });
        const grown = await store.update('t', 'a', { body: 'é'.repeat(50), tags: ['one', 'two'] });
        expect(await store.usage('t')).toEqual({
          documents: 2,
          bytes: storedBytes(grown) + storedBytes(big),
        });
        await store.delete('t', 'big');
        expect(await store.usage('t')).toEqual({ documents: 1, bytes: storedBytes(grown) });
        expect(await store.usage('other')).toMatchObject({ documents: 1 });
      });

      it('refuses a create past the document quota, writing nothing, not even to the outbox', async () => {
        const quota = { maxDocuments: 2, maxBytes: 1_000_000 };
        await store.create('t', draft('One'), 'one', { quota });
        await store.create('t', draft('Two'), 'two', { quota });
        await drainOutbox(store);
        await expect(store.create('t', draft('Three'), 'three', { quota })).rejects.toThrow(
          QuotaExceededError,
        );
        await expect(store.create('t', draft('Three'), 'three', { quota })).rejects.toThrow(/2 documents/);
        expect(await store.findByIds('t', ['three'])).toEqual([null]);
        expect(await store.pull(10)).toEqual([]);
        expect(await store.usage('t')).toEqual({
          documents: 2,
          bytes: storedBytes(draft('One')) + storedBytes(draft('Two')),
        });
        // Another tenant, and a delete that frees a slot, are not held back.
        await store.create('other', draft('Theirs'), 'theirs', { quota });
        await store.delete('t', 'one');
        await store.create('t', draft('Three'), 'three', { quota });
      });

      it('refuses a write past the byte quota, and lets a write that shrinks the tenant through', async () => {
        const quota = { maxDocuments: 100, maxBytes: storedBytes(big) + 100 };
        await store.create('t', big, 'big', { quota });
        await expect(store.create('t', big, 'again', { quota })).rejects.toThrow(QuotaExceededError);
        await expect(
          store.update('t', 'big', { body: 'y'.repeat(2000) }, undefined, { quota }),
        ).rejects.toThrow(/stored bytes/);
        const [unchanged] = await store.findByIds('t', ['big']);
        expect(unchanged?.version).toBe(1);
        const smaller = await store.update('t', 'big', { body: 'small' }, undefined, { quota });
        expect(smaller.version).toBe(2);
        expect(await store.usage('t')).toEqual({ documents: 1, bytes: storedBytes(smaller) });
      });

      it('erases one tenant: documents, tombstones, outbox entries, dead letters and usage, and nothing of another', async () => {
        const erasable = store as typeof store & { eraseTenant(tenantId: string): Promise<void> };
        await store.create('t', draft('Kept?'), 'a');
        await store.create('t', draft('Deleted'), 'b');
        await store.delete('t', 'b');
        await store.create('other', draft('Theirs'), 'theirs');
        const parked = (await store.pull(10)).find((change) => change.documentId === 'a');
        if (parked) await store.park([{ change: parked, error: 'refused', attempts: 1 }]);
        const keyedBefore = await store.create('t', draft('Keyed'), undefined, keyed('k', 'keyed'));
        await erasable.eraseTenant('t');
        await erasable.eraseTenant('t');
        expect(await store.findByIds('t', ['a', 'b'])).toEqual([null, null]);
        expect(await store.usage('t')).toEqual({ documents: 0, bytes: 0 });
        expect((await store.pull(100)).map((change) => change.tenantId)).toEqual(['other']);
        expect(await store.listDeadLetters(10)).toEqual([]);
        // The tombstone went too: the id starts again at version 1, as for a tenant never seen.
        expect((await store.create('t', draft('Again'), 'b')).version).toBe(1);
        expect(await store.findByIds('other', ['theirs'])).toMatchObject([{ id: 'theirs' }]);
        expect(await store.usage('other')).toMatchObject({ documents: 1 });
        // Its idempotency keys went too: the same key writes anew.
        const keyedAfter = await store.create('t', draft('Keyed'), undefined, keyed('k', 'keyed'));
        expect(keyedAfter.id).not.toBe(keyedBefore.id);
      });

      it('keeps the count exact under concurrent writes at the quota', async () => {
        const quota = { maxDocuments: 5, maxBytes: 1_000_000 };
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, n) => store.create('t', draft(`Doc ${n}`), `doc-${n}`, { quota })),
        );
        expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(5);
        expect((await store.usage('t')).documents).toBe(5);
        expect(await store.count('t')).toBe(5);
      });
    });
  });
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../server/documents/partitions.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';
import { describeDocumentStoreContract } from './document-store.contract.ts';

describeDocumentStoreContract('SQLite', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quarry-documents-'));
  const db = new EmbeddedDatabase(join(directory, 'quarry.db'));
  const store = new SqliteDocumentStore(db);
  return {
    store,
    async cleanup() {
      await store.close();
      db.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});

/** A database of its own for one test, removed afterwards. */
async function withDatabase(work: (db: EmbeddedDatabase) => Promise<void>) {
  const directory = await mkdtemp(join(tmpdir(), 'quarry-documents-'));
  const db = new EmbeddedDatabase(join(directory, 'quarry.db'));
  try {
    await work(db);
  } finally {
    db.close();
    await rm(directory, { recursive: true, force: true });
  }
}

it('gives an outbox from before partitions its key column, its waiting entries partition 0, and new ones their hash', async () => {
  await withDatabase(async (db) => {
    // The outbox as it was: no partition key.
    db.connection.exec(`
        CREATE TABLE document_outbox (
          sequence INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, document_id TEXT NOT NULL,
          version INTEGER NOT NULL, operation TEXT NOT NULL, payload TEXT, committed_at TEXT NOT NULL);
        INSERT INTO document_outbox (tenant_id, document_id, version, operation, payload, committed_at)
          VALUES ('old-tenant', 'waiting', 2, 'delete', NULL, '2026-01-01T00:00:00.000Z');
      `);
    const store = new SqliteDocumentStore(db);
    await store.create(
      'new-tenant',
      { title: 'New', body: '', tags: [], author: null, status: 'DRAFT' },
      'n',
    );
    const count = 8;
    const ofPartition = async (partition: number) =>
      (await store.pull(10, { count, partitions: [partition] })).map((change) => change.documentId);
    expect(await ofPartition(0)).toContain('waiting');
    expect(await ofPartition(partitionOf('new-tenant', count))).toContain('n');
  });
});

describe('SqliteDocumentStore idempotency keys', () => {
  it('removes expired keys as keyed writes come, so the table holds about one retention of keys', async () => {
    await withDatabase(async (db) => {
      const store = new SqliteDocumentStore(db);
      const keyed = (key: string, expiresAt: Date) => ({ idempotency: { key, fingerprint: key, expiresAt } });
      const draft = { title: 'T', body: '', tags: [], author: null, status: 'DRAFT' as const };
      const past = new Date(Date.now() - 1000);
      const future = new Date(Date.now() + 3_600_000);
      for (const key of ['old-1', 'old-2', 'old-3'])
        await store.create('t', draft, undefined, keyed(key, past));
      const keys = () =>
        (db.statement('SELECT key FROM idempotency_keys ORDER BY key').all() as { key: string }[]).map(
          (row) => row.key,
        );
      // Each of those removed what had expired before it.
      expect(keys()).toEqual(['old-3']);
      await store.create('t', draft, undefined, keyed('new-1', future));
      await store.create('t', draft, undefined, keyed('new-2', future));
      expect(keys()).toEqual(['new-1', 'new-2']);
    });
  });
});

describe('SqliteDocumentStore tombstones from before pruning existed', () => {
  it('dates them at the upgrade, so they are kept one whole retention from then', async () => {
    await withDatabase(async (db) => {
      const store = new SqliteDocumentStore(db);
      await store.create('t', { title: 'Old', body: '', tags: [], author: null, status: 'DRAFT' }, 'd');
      await store.delete('t', 'd');
      // The table as it was before tombstones had a time.
      db.connection.exec('DROP INDEX document_tombstones_by_deleted');
      db.connection.exec('ALTER TABLE document_tombstones DROP COLUMN deleted_at');
      const upgradedAt = Date.now();
      const upgraded = new SqliteDocumentStore(db);
      expect(await upgraded.pruneTombstones(new Date(upgradedAt - 1000), 10)).toBe(0);
      expect(await upgraded.pruneTombstones(new Date(Date.now() + 1000), 10)).toBe(1);
    });
  });
});

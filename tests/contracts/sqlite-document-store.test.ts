import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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

describe('SqliteDocumentStore tombstones from before pruning existed', () => {
  it('dates them at the upgrade, so they are kept one whole retention from then', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'quarry-documents-'));
    const db = new EmbeddedDatabase(join(directory, 'quarry.db'));
    try {
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
    } finally {
      db.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});

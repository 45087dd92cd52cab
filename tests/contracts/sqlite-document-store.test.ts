import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

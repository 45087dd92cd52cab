import type { DocumentChange, DocumentRecord } from '../../server/documents/model.ts';

const at = new Date('2024-05-01T00:00:00.000Z');

/** An outbox upsert as the indexer receives it, for tests of the search index adapters. */
export function upsertChange(
  tenantId: string,
  id: string,
  version: number,
  fields: Partial<Pick<DocumentRecord, 'title' | 'body' | 'updatedAt'>> = {},
): DocumentChange {
  return {
    sequence: `${tenantId}/${id}/${version}`,
    tenantId,
    documentId: id,
    version,
    operation: 'upsert',
    document: {
      id,
      tenantId,
      title: fields.title ?? `Note ${id}`,
      body: fields.body ?? '',
      tags: [],
      author: null,
      status: 'PUBLISHED',
      version,
      createdAt: at,
      updatedAt: fields.updatedAt ?? at,
    },
    committedAt: at,
  };
}

/** An outbox delete: a version of its own, with no document. */
export const deleteChange = (tenantId: string, id: string, version: number): DocumentChange => ({
  ...upsertChange(tenantId, id, version),
  operation: 'delete',
  document: null,
});

import { expect, it } from 'vitest';
import { ElasticsearchSearchIndex } from '../../subgraphs/search/adapters/elasticsearch-search-index.ts';
import { deleteChange, upsertChange } from '../helpers/document-changes.ts';
import { elasticsearchCluster } from '../helpers/elasticsearch-mock.ts';

const olderIndex = 'quarry-documents-g1-000001';
const newerIndex = 'quarry-documents-g1-000002';

const deletedAt = (tenantId: string, id: string, version: number, committedAt: string) => ({
  ...deleteChange(tenantId, id, version),
  committedAt: new Date(committedAt),
});

it('prunes tombstones of deletes before the cutoff from every backing index, a bounded batch at a time', async () => {
  const { es, names, seed, stored } = elasticsearchCluster({ indices: [olderIndex, newerIndex] });
  // A tombstone from before tombstones carried deleted_at, in the older index: it goes by indexed_at.
  seed(
    olderIndex,
    'acme/legacy',
    { tenant_id: 'acme', doc_id: 'legacy', deleted: true, indexed_at: '2024-01-01T00:00:00.000Z' },
    2,
  );
  const index = new ElasticsearchSearchIndex({ client: es.client, names });
  await index.apply([
    upsertChange('acme', 'live', 1),
    upsertChange('acme', 'old', 1),
    upsertChange('acme', 'recent', 1),
  ]);
  await index.apply([
    deletedAt('acme', 'old', 2, '2024-01-15T00:00:00.000Z'),
    deletedAt('acme', 'recent', 2, '2024-03-01T00:00:00.000Z'),
  ]);

  const cutoff = new Date('2024-03-01T00:00:00.000Z');
  expect(await index.pruneTombstones(cutoff, 1)).toBe(1);
  expect(await index.pruneTombstones(cutoff, 1)).toBe(1);
  expect(await index.pruneTombstones(cutoff, 1)).toBe(0);
  expect(
    stored()
      .map((source) => [source.doc_id, source.deleted])
      .sort(),
  ).toEqual([
    ['live', false],
    ['recent', true],
  ]);
  const [sent] = es.requests.filter((request) => request.path.endsWith('/_delete_by_query'));
  expect(sent?.querystring).toMatchObject({ conflicts: 'proceed' });
  expect(sent?.body.max_docs).toBe(1);
});

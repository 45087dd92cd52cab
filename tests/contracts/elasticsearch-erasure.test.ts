import { expect, it } from 'vitest';
import { ElasticsearchSearchIndex } from '../../subgraphs/search/adapters/elasticsearch-search-index.ts';
import { elasticsearchNames } from '../../subgraphs/search/adapters/elasticsearch-setup.ts';
import { deleteChange, upsertChange } from '../helpers/document-changes.ts';
import { elasticsearchCluster } from '../helpers/elasticsearch-mock.ts';

const names = elasticsearchNames('quarry-documents');
const older = 'quarry-documents-g1-000001';
const newer = 'quarry-documents-g1-000002';

const change = (tenantId: string, id: string, version: number, operation: 'upsert' | 'delete') =>
  operation === 'delete'
    ? deleteChange(tenantId, id, version)
    : upsertChange(tenantId, id, version, { body: 'Body' });

it('erases every copy of a tenant from every backing index, tombstones included, and nothing of another', async () => {
  // Two backing indices behind the read alias, the newer one taking writes: one copy of the leaving tenant
  // is in the older index, as after a rollover.
  const cluster = elasticsearchCluster({ indices: [older] });
  const index = new ElasticsearchSearchIndex({ client: cluster.client, names });
  await index.apply([change('leaving-tenant', 'old', 1, 'upsert')]);
  cluster.rollover(newer);
  await index.apply([
    change('leaving-tenant', 'a', 1, 'upsert'),
    change('leaving-tenant', 'b', 1, 'upsert'),
    change('staying', 'c', 1, 'upsert'),
  ]);
  await index.apply([change('leaving-tenant', 'b', 2, 'delete')]);
  const stored = () =>
    [...cluster.indices.values()].flatMap((documents) => [...documents.values()].map((copy) => copy.source));
  expect(stored().some((source) => source.tenant_id === 'leaving-tenant' && source.deleted)).toBe(true);

  await index.eraseTenant('leaving-tenant');

  expect(stored().filter((source) => source.tenant_id === 'leaving-tenant')).toEqual([]);
  expect(stored()).toEqual([expect.objectContaining({ tenant_id: 'staying', deleted: false })]);
});

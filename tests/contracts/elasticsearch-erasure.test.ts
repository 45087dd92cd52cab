import { expect, it } from 'vitest';
import { ElasticsearchSearchIndex } from '../../subgraphs/search/adapters/elasticsearch-search-index.ts';
import { deleteChange, upsertChange } from '../helpers/document-changes.ts';
import { elasticsearchCluster } from '../helpers/elasticsearch-mock.ts';

const olderIndex = 'quarry-documents-g1-000001';
const newerIndex = 'quarry-documents-g1-000002';

const change = (tenantId: string, id: string, version: number, operation: 'upsert' | 'delete') =>
  operation === 'delete'
    ? deleteChange(tenantId, id, version)
    : upsertChange(tenantId, id, version, { body: 'Body' });

it('erases every copy of a tenant from every backing index, tombstones included, and its synonyms, and nothing of another', async () => {
  const { es, names, seed, stored } = elasticsearchCluster({ indices: [olderIndex, newerIndex] });
  // One copy already in the older index, as after a rollover.
  seed(olderIndex, 'leaving-tenant/old', { tenant_id: 'leaving-tenant', deleted: false }, 1);
  const index = new ElasticsearchSearchIndex({ client: es.client, names });
  await index.apply([
    change('leaving-tenant', 'a', 1, 'upsert'),
    change('leaving-tenant', 'b', 1, 'upsert'),
    change('staying', 'c', 1, 'upsert'),
  ]);
  await index.apply([change('leaving-tenant', 'b', 2, 'delete')]);
  const rule = { equivalents: [], rules: [{ word: 'laptop', synonyms: ['notebook'] }] };
  await index.replaceSynonyms('leaving-tenant', rule);
  await index.replaceSynonyms('staying', rule);
  expect(stored().some((source) => source.tenant_id === 'leaving-tenant' && source.deleted)).toBe(true);

  await index.eraseTenant('leaving-tenant');

  const [erasure] = es.requests.filter((request) => request.path.endsWith('/_delete_by_query'));
  expect(erasure?.querystring.routing).toBe('leaving-tenant');
  expect(stored().filter((source) => source.tenant_id === 'leaving-tenant')).toEqual([]);
  expect(stored()).toEqual([
    expect.objectContaining({ tenant_id: 'staying', deleted: false }),
    expect.objectContaining({ tenant_id: 'staying', rules: rule.rules }),
  ]);
});

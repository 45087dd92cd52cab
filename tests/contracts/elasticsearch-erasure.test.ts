import { expect, it } from 'vitest';
import { ElasticsearchSearchIndex } from '../../subgraphs/search/adapters/elasticsearch-search-index.ts';
import { elasticsearchNames } from '../../subgraphs/search/adapters/elasticsearch-setup.ts';
import { deleteChange, upsertChange } from '../helpers/document-changes.ts';
import { mockedElasticsearch } from '../helpers/elasticsearch-mock.ts';

const names = elasticsearchNames('quarry-documents');
const older = 'quarry-documents-g1-000001';
const newer = 'quarry-documents-g1-000002';
const synonyms = 'quarry-documents.synonyms';

const change = (tenantId: string, id: string, version: number, operation: 'upsert' | 'delete') =>
  operation === 'delete'
    ? deleteChange(tenantId, id, version)
    : upsertChange(tenantId, id, version, { body: 'Body' });

type Query = { term?: Record<string, unknown>; bool?: { filter?: Query[]; must?: Query[] } };

/** The term and bool queries the adapter may send, evaluated as Elasticsearch would on a stored source. */
function matches(source: Record<string, unknown>, query: Query): boolean {
  if (query.term) return Object.entries(query.term).every(([field, value]) => source[field] === value);
  if (query.bool)
    return [...(query.bool.filter ?? []), ...(query.bool.must ?? [])].every((q) => matches(source, q));
  throw new Error(`the mock does not evaluate ${JSON.stringify(query)}`);
}

/**
 * Two backing indices behind the read alias, the newer one taking writes, kept by a mock that applies
 * what the adapter sends: bulk writes store their documents, and a delete-by-query removes what its
 * term matches in every index behind the alias, as Elasticsearch does. Every stored document can then
 * be scanned for a trace of the erased tenant.
 */
function cluster() {
  const es = mockedElasticsearch();
  const indices: Record<string, Map<string, { tenant_id: string; deleted: boolean }>> = {
    [older]: new Map(),
    [newer]: new Map(),
    [synonyms]: new Map(),
  };
  es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => ({
    [older]: { aliases: { 'quarry-documents': {} } },
    [newer]: { aliases: { 'quarry-documents': {}, 'quarry-documents-write': { is_write_index: true } } },
  }));
  es.on('POST', '/_mget', (sent) => ({
    docs: sent.body.docs.map((doc: { _index: string; _id: string }) =>
      indices[doc._index]?.has(doc._id) ? { ...doc, found: true, _version: 1 } : { ...doc, found: false },
    ),
  }));
  es.on('POST', '/_bulk', (sent) => {
    const items = [];
    const operations = sent.body as Record<string, { _index: string; _id: string }>[];
    for (let position = 0; position < operations.length; position++) {
      const operation = operations[position] as Record<string, { _index: string; _id: string }>;
      if (operation.index) {
        const source = operations[++position] as unknown as { tenant_id: string; deleted: boolean };
        indices[operation.index._index]?.set(operation.index._id, source);
        items.push({ index: { status: 201 } });
      } else if (operation.delete) {
        indices[operation.delete._index]?.delete(operation.delete._id);
        items.push({ delete: { status: 200 } });
      }
    }
    return { errors: false, items };
  });
  es.on('PUT', '/:index/_doc/*', (sent) => {
    const [, index = '', , ...id] = sent.path.split('/');
    indices[index]?.set(decodeURIComponent(id.join('/')), sent.body);
    return { result: 'created' };
  });
  es.on('PUT', `/${synonyms}`, () => ({ acknowledged: true }));
  es.on('DELETE', '/:index/_doc/*', (sent) => {
    const [, index = '', , ...id] = sent.path.split('/');
    return indices[index]?.delete(decodeURIComponent(id.join('/')))
      ? { result: 'deleted' }
      : es.error(404, 'not_found');
  });
  es.on('POST', '/quarry-documents/_delete_by_query', (sent) => {
    expect(sent.querystring.routing).toBeDefined();
    let deleted = 0;
    // Only the indices behind the read alias, as Elasticsearch resolves it.
    for (const documents of [older, newer].map((name) => indices[name] ?? new Map()))
      for (const [id, source] of documents)
        if (matches(source, sent.body.query)) {
          documents.delete(id);
          deleted++;
        }
    return { deleted, failures: [] };
  });
  return { es, indices };
}

it('erases every copy of a tenant from every backing index, tombstones included, and its synonyms, and nothing of another', async () => {
  const { es, indices } = cluster();
  // One copy already in the older index, as after a rollover.
  indices[older]?.set('leaving-tenant/old', { tenant_id: 'leaving-tenant', deleted: false });
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
  const stored = () => Object.values(indices).flatMap((documents) => [...documents.values()]);
  expect(stored().some((source) => source.tenant_id === 'leaving-tenant' && source.deleted)).toBe(true);

  await index.eraseTenant('leaving-tenant');

  expect(stored().filter((source) => source.tenant_id === 'leaving-tenant')).toEqual([]);
  expect(stored()).toEqual([
    expect.objectContaining({ tenant_id: 'staying', deleted: false }),
    expect.objectContaining({ tenant_id: 'staying', rules: rule.rules }),
  ]);
});

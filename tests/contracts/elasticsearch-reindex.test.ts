import { describe, expect, it } from 'vitest';
import { ElasticsearchReindexTarget } from '../../subgraphs/search/adapters/elasticsearch-reindex.ts';
import { ElasticsearchSearchIndex } from '../../subgraphs/search/adapters/elasticsearch-search-index.ts';
import { elasticsearchNames } from '../../subgraphs/search/adapters/elasticsearch-setup.ts';
import { mockedElasticsearch } from '../helpers/elasticsearch-mock.ts';

const names = elasticsearchNames('quarry-documents');

function target() {
  const es = mockedElasticsearch();
  const index = new ElasticsearchSearchIndex({ client: es.client, names });
  return { es, target: new ElasticsearchReindexTarget({ client: es.client, names, index }) };
}

const checkpoint = {
  runId: 'run-1',
  startedAt: '2024-06-01T10:00:00.000Z',
  copied: 0,
};

describe('ElasticsearchReindexTarget request shapes (elasticsearch-mock)', () => {
  it('names the new generation, creates it and moves the write alias to it, marking the old write index complete', async () => {
    const { es, target: reindex } = target();
    const planned = reindex.plan(checkpoint);
    expect(planned.targetIndex).toBe('quarry-documents-g20240601100000000-000001');
    es.on('PUT', '/:index', () => ({ acknowledged: true }));
    es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => ({
      'quarry-documents-g1-000001': {
        aliases: { 'quarry-documents': {}, 'quarry-documents-write': { is_write_index: true } },
      },
      'quarry-documents-g20240601100000000-000001': { aliases: { 'quarry-documents': {} } },
    }));
    es.on('PUT', '/:index/_settings', () => ({ acknowledged: true }));
    es.on('POST', '/_aliases', () => ({ acknowledged: true }));
    await reindex.prepare(planned);
    expect(es.requests.map((sent) => `${sent.method} ${sent.path}`)).toEqual([
      'PUT /quarry-documents-g20240601100000000-000001',
      'GET /_alias/quarry-documents,quarry-documents-write',
      'PUT /quarry-documents-g1-000001/_settings',
      'POST /_aliases',
    ]);
    expect(es.requests[2]?.body).toEqual({ 'index.lifecycle.indexing_complete': true });
    expect(es.requests[3]?.body).toEqual({
      actions: [
        { remove: { index: 'quarry-documents-g1-000001', alias: 'quarry-documents-write' } },
        {
          add: {
            index: 'quarry-documents-g20240601100000000-000001',
            alias: 'quarry-documents-write',
            is_write_index: true,
          },
        },
      ],
    });
  });

  it('resumed after rollover moved the write alias on within the new generation, leaves it there', async () => {
    const { es, target: reindex } = target();
    const planned = reindex.plan(checkpoint);
    const generation = 'quarry-documents-g20240601100000000';
    es.on('PUT', '/:index', () => es.error(400, 'resource_already_exists_exception'));
    es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => ({
      'quarry-documents-g1-000001': { aliases: { 'quarry-documents': {} } },
      [`${generation}-000001`]: {
        aliases: { 'quarry-documents': {}, 'quarry-documents-write': { is_write_index: false } },
      },
      [`${generation}-000002`]: {
        aliases: { 'quarry-documents': {}, 'quarry-documents-write': { is_write_index: true } },
      },
    }));
    es.on('PUT', '/:index/_settings', () => ({ acknowledged: true }));
    es.on('POST', '/_aliases', () => ({ acknowledged: true }));
    await reindex.prepare(planned);
    // Moving it back to -000001 would mark -000002 complete and stop ILM rolling over for good.
    expect(
      es.requests.filter((sent) => sent.path === '/_aliases' || sent.path.endsWith('/_settings')),
    ).toEqual([]);
  });

  it('swaps by removing every index of older generations in one alias change', async () => {
    const { es, target: reindex } = target();
    es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => ({
      'quarry-documents-g1-000001': { aliases: { 'quarry-documents': {} } },
      'quarry-documents-g1-000002': { aliases: { 'quarry-documents': {} } },
      'quarry-documents-g20240601100000000-000001': { aliases: { 'quarry-documents': {} } },
      'quarry-documents-g20240601100000000-000002': {
        aliases: { 'quarry-documents': {}, 'quarry-documents-write': { is_write_index: true } },
      },
    }));
    es.on('POST', '/_aliases', () => ({ acknowledged: true }));
    await reindex.finish(reindex.plan(checkpoint));
    expect(es.requests.at(-1)?.body).toEqual({
      actions: [
        { remove_index: { index: 'quarry-documents-g1-000001' } },
        { remove_index: { index: 'quarry-documents-g1-000002' } },
      ],
    });
  });

  it("rebuilds one tenant in place: deletes only that tenant's entries not rewritten since the start", async () => {
    const { es, target: reindex } = target();
    es.on('POST', '/quarry-documents/_delete_by_query', () => ({ deleted: 2 }));
    const tenantRun = reindex.plan({ ...checkpoint, tenantId: 'acme' });
    expect(tenantRun.targetIndex).toBeUndefined();
    await reindex.prepare(tenantRun);
    await reindex.finish(tenantRun);
    const [sent] = es.requests;
    expect(sent?.querystring).toMatchObject({ routing: 'acme', conflicts: 'proceed' });
    expect(sent?.body.query).toEqual({
      bool: {
        filter: [
          { term: { tenant_id: 'acme' } },
          { range: { indexed_at: { lt: '2024-06-01T10:00:00.000Z' } } },
        ],
      },
    });
  });

  it('keeps its checkpoint outside the backing indices, and reads none as no run', async () => {
    const { es, target: reindex } = target();
    es.on('GET', '/quarry-documents.reindex-state/_doc/current', () =>
      es.error(404, 'index_not_found_exception'),
    );
    expect(await reindex.loadCheckpoint()).toBeNull();
  });

  it('stores the checkpoint as one string, so no field of it can be mapped as a date by the first value seen', async () => {
    const { es, target: reindex } = target();
    let stored: unknown;
    es.on('PUT', '/quarry-documents.reindex-state/_doc/current', (sent) => {
      stored = sent.body;
      return { result: 'created' };
    });
    es.on('GET', '/quarry-documents.reindex-state/_doc/current', () => ({ found: true, _source: stored }));
    const saved = {
      ...checkpoint,
      tenantId: 'acme',
      after: { tenantId: 'acme', id: '2024-01-15' },
      copied: 500,
    };
    await reindex.saveCheckpoint(saved);
    expect(stored).toEqual({ checkpoint: JSON.stringify(saved) });
    expect(await reindex.loadCheckpoint()).toEqual(saved);
  });
});

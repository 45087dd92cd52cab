import { expect } from 'vitest';
import { elasticsearchNames } from '../../subgraphs/search/adapters/elasticsearch-setup.ts';
import { mockedElasticsearch } from './elasticsearch-mock.ts';

export const clusterNames = elasticsearchNames('quarry-documents');
export const olderIndex = 'quarry-documents-g1-000001';
export const newerIndex = 'quarry-documents-g1-000002';
/** The tenants' synonyms, an index of its own outside the aliases. */
export const synonymsIndex = clusterNames.synonymsIndex;

/** A stored source, as the adapter wrote it. */
export type StoredSource = Record<string, unknown> & { tenant_id: string; deleted: boolean };

interface StoredDocument {
  source: StoredSource;
  version: number;
}

type Query = {
  term?: Record<string, unknown>;
  range?: Record<string, { lt?: string }>;
  exists?: { field: string };
  bool?: {
    filter?: Query[];
    must?: Query[];
    must_not?: Query[];
    should?: Query[];
    minimum_should_match?: number;
  };
};

/** The queries the adapter sends for erasure and pruning, evaluated as Elasticsearch would on a stored source. */
function matches(source: StoredSource, query: Query): boolean {
  if (query.term) return Object.entries(query.term).every(([field, value]) => source[field] === value);
  if (query.exists) return source[query.exists.field] !== undefined;
  if (query.range)
    return Object.entries(query.range).every(([field, { lt }]) => {
      const value = source[field];
      return typeof value === 'string' && lt !== undefined && Date.parse(value) < Date.parse(lt);
    });
  if (query.bool) {
    const { filter = [], must = [], must_not = [], should = [], minimum_should_match = 0 } = query.bool;
    return (
      [...filter, ...must].every((q) => matches(source, q)) &&
      !must_not.some((q) => matches(source, q)) &&
      should.filter((q) => matches(source, q)).length >= minimum_should_match
    );
  }
  throw new Error(`the mock does not evaluate ${JSON.stringify(query)}`);
}

/** How Elasticsearch answers a write it does not take, for example 400 mapper_parsing_exception or 429. */
export interface Refusal {
  status: number;
  type: string;
}

export interface ClusterOptions {
  /** A write of a source this returns a refusal for is refused with it, and the rest of its bulk is written. */
  refuse?: (source: StoredSource) => Refusal | undefined;
}

/**
 * Two backing indices behind the read alias, the newer one taking writes,
 * kept by a mock that applies what the adapter sends: bulk and single writes
 * store their documents under external versions (409 when not newer), reads
 * answer the stored version, and a delete-by-query removes what its query
 * matches in every index behind the alias, as Elasticsearch does. The
 * tenants' synonyms are one more index, outside the aliases. A bulk
 * item can be refused on its own, as Elasticsearch refuses a document its
 * mapping cannot take while writing the rest. It checks what the adapter
 * does with the answers, not Elasticsearch.
 */
export function elasticsearchCluster(options: ClusterOptions = {}) {
  const es = mockedElasticsearch();
  const indices: Record<string, Map<string, StoredDocument>> = {
    [olderIndex]: new Map(),
    [newerIndex]: new Map(),
    [synonymsIndex]: new Map(),
  };
  /** Without an external version (the synonyms), a write replaces what is there. */
  const store = (index: string, id: string, source: StoredSource, version?: number) => {
    const current = indices[index]?.get(id);
    if (current && version !== undefined && current.version >= version)
      return { status: 409, error: { type: 'version_conflict_engine_exception', reason: 'not newer' } };
    const refusal = options.refuse?.(source);
    if (refusal) return { status: refusal.status, error: { type: refusal.type, reason: refusal.type } };
    indices[index]?.set(id, { source, version: version ?? (current?.version ?? 0) + 1 });
    return { status: 201 };
  };
  es.on('GET', '/_alias/quarry-documents,quarry-documents-write', () => ({
    [olderIndex]: { aliases: { 'quarry-documents': {} } },
    [newerIndex]: { aliases: { 'quarry-documents': {}, 'quarry-documents-write': { is_write_index: true } } },
  }));
  es.on('POST', '/_mget', (sent) => ({
    docs: sent.body.docs.map((doc: { _index: string; _id: string }) => {
      const stored = indices[doc._index]?.get(doc._id);
      return stored
        ? { ...doc, found: true, _version: stored.version, _seq_no: 1, _primary_term: 1 }
        : { ...doc, found: false };
    }),
  }));
  es.on('POST', '/_bulk', (sent) => {
    const items = [];
    const operations = sent.body as Record<string, { _index: string; _id: string; version: number }>[];
    for (let position = 0; position < operations.length; position++) {
      const operation = operations[position] as Record<
        string,
        { _index: string; _id: string; version: number }
      >;
      if (operation.index) {
        const source = operations[++position] as unknown as StoredSource;
        items.push({
          index: store(operation.index._index, operation.index._id, source, operation.index.version),
        });
      } else if (operation.delete) {
        indices[operation.delete._index]?.delete(operation.delete._id);
        items.push({ delete: { status: 200 } });
      }
    }
    return { errors: items.some((item) => 'error' in (Object.values(item)[0] ?? {})), items };
  });
  es.on('PUT', '/:index/_doc/*', (sent) => {
    const [, index = '', , ...id] = sent.path.split('/');
    const { version } = sent.querystring;
    const result = store(
      index,
      decodeURIComponent(id.join('/')),
      sent.body,
      version ? Number(version) : undefined,
    );
    if (result.error) return es.error(result.status, result.error.type);
    return { result: 'created' };
  });
  es.on('PUT', `/${synonymsIndex}`, () => ({ acknowledged: true }));
  es.on('DELETE', '/:index/_doc/*', (sent) => {
    const [, index = '', , ...id] = sent.path.split('/');
    return indices[index]?.delete(decodeURIComponent(id.join('/')))
      ? { result: 'deleted' }
      : es.error(404, 'not_found');
  });
  es.on('POST', '/quarry-documents/_delete_by_query', (sent) => {
    if (sent.body.query.term?.tenant_id) expect(sent.querystring.routing).toBeDefined();
    const limit = sent.body.max_docs ?? Number.POSITIVE_INFINITY;
    let deleted = 0;
    // Only the indices behind the read alias, as Elasticsearch resolves it.
    for (const documents of [olderIndex, newerIndex].map((name) => indices[name] ?? new Map()))
      for (const [id, { source }] of documents)
        if (deleted < limit && matches(source, sent.body.query)) {
          documents.delete(id);
          deleted++;
        }
    return { deleted, failures: [] };
  });
  /** Every stored source, in every index. */
  const stored = () =>
    Object.values(indices).flatMap((documents) => [...documents.values()].map((doc) => doc.source));
  return { es, indices, stored };
}

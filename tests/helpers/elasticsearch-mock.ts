import { createRequire } from 'node:module';
import { Client, type errors } from '@elastic/elasticsearch';
import MockModule from '@elastic/elasticsearch-mock';
import {
  type ElasticsearchNames,
  elasticsearchNames,
} from '../../subgraphs/search/adapters/elasticsearch-setup.ts';

// The package is CommonJS with `module.exports = ClientMock`; its typings describe an ES default export.
const Mock = MockModule as unknown as typeof MockModule.default;
/**
 * The mock loads the client's CommonJS build and recognises error responses
 * with `instanceof` against it, while this ESM module gets the ESM build: an
 * error built from the ESM class would be sent back as a 200. So errors come
 * from the CommonJS build here.
 */
const commonJsErrors = createRequire(import.meta.url)('@elastic/elasticsearch').errors as typeof errors;

export interface RecordedRequest {
  method: string;
  path: string;
  querystring: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: request bodies are whatever the adapter sent; tests assert on them.
  body: any;
}

/**
 * A real `@elastic/elasticsearch` client whose connection is
 * `@elastic/elasticsearch-mock`: the adapter's requests are serialised by the
 * real client and recorded here, and each route answers with what a test
 * gives it. It checks request shapes and response handling, not Elasticsearch.
 */
export function mockedElasticsearch() {
  const mock = new Mock();
  const requests: RecordedRequest[] = [];
  const client = new Client({
    node: 'http://localhost:9200',
    Connection: mock.getConnection() as unknown as ConstructorParameters<typeof Client>[0]['Connection'],
    maxRetries: 0,
  });
  return {
    client,
    requests,
    on(method: string, path: string, respond: (request: RecordedRequest) => object | string) {
      mock.add({ method, path }, (params: unknown) => {
        const request = params as unknown as RecordedRequest;
        requests.push(request);
        return respond(request);
      });
    },
    /** An error response as Elasticsearch would send it; `rootCause` as in a failed search's `root_cause`. */
    error(statusCode: number, type: string, rootCause?: string) {
      return new commonJsErrors.ResponseError({
        body: {
          error: {
            type,
            reason: type,
            ...(rootCause ? { root_cause: [{ type: rootCause, reason: rootCause }] } : {}),
          },
          status: statusCode,
        },
        statusCode,
        headers: {},
        warnings: null,
        meta: {} as never,
      });
    },
  };
}

/** One stored copy, with the metadata Elasticsearch keeps beside it. */
export interface StoredDocument {
  source: Record<string, unknown>;
  version: number;
  seqNo: number;
  primaryTerm: number;
}

/** How Elasticsearch answers a write it does not take, for example 400 mapper_parsing_exception or 429. */
export interface Refusal {
  status: number;
  type: string;
}

/** One item of a bulk, as `rejectBulkItem` sees it. */
export interface BulkItem {
  action: 'index' | 'delete';
  index: string;
  id: string;
}

// biome-ignore lint/suspicious/noExplicitAny: query and sort clauses are whatever the adapter built.
type Clause = any;

const primaryTerm = 1;

/** Keyword-exact clauses the adapter uses in filter context (searches, erasure, pruning), evaluated as Elasticsearch would. */
function matches(source: Record<string, unknown>, query: Clause): boolean {
  if (query.term) {
    return Object.entries(query.term as Record<string, unknown>).every(([field, value]) => {
      const stored = source[field];
      return Array.isArray(stored) ? stored.includes(value) : stored === value;
    });
  }
  if (query.terms) {
    return Object.entries(query.terms as Record<string, unknown[]>).every(([field, values]) => {
      const stored = source[field];
      return Array.isArray(stored) ? stored.some((value) => values.includes(value)) : values.includes(stored);
    });
  }
  if (query.exists) return source[query.exists.field] !== undefined;
  if (query.range) {
    return Object.entries(query.range as Record<string, Record<string, string>>).every(([field, bounds]) => {
      const value = String(source[field]);
      return (
        (bounds.gt === undefined || value > bounds.gt) &&
        (bounds.gte === undefined || value >= bounds.gte) &&
        (bounds.lt === undefined || value < bounds.lt) &&
        (bounds.lte === undefined || value <= bounds.lte)
      );
    });
  }
  if (query.bool) {
    const {
      filter = [],
      must = [],
      must_not: mustNot = [],
      should = [],
    } = query.bool as Record<string, Clause[]>;
    const minimumShouldMatch = Number(query.bool.minimum_should_match ?? 0);
    return (
      [...filter, ...must].every((clause) => matches(source, clause)) &&
      !mustNot.some((clause: Clause) => matches(source, clause)) &&
      should.filter((clause: Clause) => matches(source, clause)).length >= minimumShouldMatch
    );
  }
  throw new Error(`the cluster mock does not evaluate ${JSON.stringify(query)}: use filters and empty text`);
}

/** Compares sort values as Elasticsearch does for keywords, dates and numbers. */
const compare = (a: unknown, b: unknown) =>
  a === b ? 0 : (a as string | number) < (b as string | number) ? -1 : 1;

/**
 * A small Elasticsearch that keeps what the adapter writes and enforces what
 * a real cluster enforces, so the adapter's bugs fail here as they would in
 * production:
 *
 * - routing required on every write and real-time read of a document, as Quarry's mappings say
 *   (the tenants' synonyms index, outside the aliases, is not routed and exists once created);
 * - external versioning: a write whose version is not newer than the stored
 *   one answers 409 (`external_gte` accepts an equal one);
 * - a sequence number per index that every write increments, and 409 when
 *   `if_seq_no`/`if_primary_term` no longer match;
 * - writes refused for their content (`refuse`, as a mapping refuses a document), single or in a
 *   bulk, and bulk items that fail on their own (`rejectBulkItem`), the rest of the bulk applied;
 * - delete-by-query over every index behind the alias, bounded by `max_docs`;
 * - points in time: a frozen copy of the indices behind an alias, searched
 *   with `search_after`, closed or expired (404 `search_context_missing_exception`).
 *
 * Searches evaluate filters, sorting and paging; not text relevance, highlights
 * or aggregations. Deleted documents are forgotten at once, as after
 * `index.gc_deletes`; Quarry keeps its own tombstones for that reason.
 */
export function elasticsearchCluster(
  options: {
    readAlias?: string;
    writeAlias?: string;
    indices?: string[];
    writeIndex?: string;
    /** A write of a source this returns a refusal for is refused with it. */
    refuse?: (source: Record<string, unknown>) => Refusal | undefined;
  } = {},
) {
  const {
    readAlias = 'quarry-documents',
    writeAlias = `${readAlias}-write`,
    indices: names = [`${readAlias}-g1-000001`],
  } = options;
  /** The names the adapter is given for this cluster. */
  const clusterNames: ElasticsearchNames = { ...elasticsearchNames(readAlias), writeAlias };
  const { synonymsIndex } = clusterNames;
  const es = mockedElasticsearch();
  const indices = new Map<string, Map<string, StoredDocument>>(names.map((name) => [name, new Map()]));
  const seqNos = new Map<string, number>(names.map((name) => [name, -1]));
  const layout = { readIndices: [...names], writeIndex: options.writeIndex ?? (names.at(-1) as string) };
  const pits = new Map<string, { indices: Map<string, StoredDocument>[]; routing?: string }>();
  let pitCount = 0;
  const state = {
    /** Decides, per bulk item, a failure to answer instead of applying it. */
    rejectBulkItem: undefined as
      | ((item: BulkItem) => { status: number; type: string } | undefined)
      | undefined,
    /** Runs after each real-time read (`_mget`), for instance a rollover ILM makes on its own schedule. */
    afterRead: undefined as (() => void) | undefined,
  };

  const resolve = (target: string) => (target === writeAlias ? layout.writeIndex : target);
  const behind = (target: string) => (target === readAlias ? layout.readIndices : [resolve(target)]);
  const conflict = () => es.error(409, 'version_conflict_engine_exception');

  /** One write as Elasticsearch applies it: a conflict, or the stored copy's new metadata. */
  function write(
    action: 'index' | 'delete',
    target: string,
    id: string,
    parameters: Record<string, unknown>,
    source?: Record<string, unknown>,
  ): { status: number; type?: string; stored?: StoredDocument } {
    const index = resolve(target);
    const documents = indices.get(index);
    if (!documents) return { status: 404, type: 'index_not_found_exception' };
    // The mappings require routing (`_routing: required`), as Quarry's template does.
    if (parameters.routing === undefined && index !== synonymsIndex)
      return { status: 400, type: 'routing_missing_exception' };
    const current = documents.get(id);
    if (parameters.if_seq_no !== undefined) {
      const seqNo = Number(parameters.if_seq_no);
      const term = Number(parameters.if_primary_term);
      if (!current || current.seqNo !== seqNo || current.primaryTerm !== term)
        return { status: 409, type: 'version_conflict_engine_exception' };
    }
    const versionType = parameters.version_type as string | undefined;
    const version = parameters.version === undefined ? undefined : Number(parameters.version);
    if (action === 'index' && (versionType === 'external' || versionType === 'external_gte')) {
      if (version === undefined) throw new Error('external versioning without a version');
      if (current && (versionType === 'external' ? version <= current.version : version < current.version))
        return { status: 409, type: 'version_conflict_engine_exception' };
    }
    if (action === 'delete' && !current) return { status: 404 };
    const refusal = action === 'index' && source ? options.refuse?.(source) : undefined;
    if (refusal) return refusal;
    const seqNo = (seqNos.get(index) ?? -1) + 1;
    seqNos.set(index, seqNo);
    if (action === 'delete') {
      documents.delete(id);
      return { status: 200 };
    }
    const stored: StoredDocument = {
      source: source ?? {},
      version: version ?? (current ? current.version + 1 : 1),
      seqNo,
      primaryTerm,
    };
    documents.set(id, stored);
    return { status: current ? 200 : 201, stored };
  }

  function search(body: Clause, documents: Map<string, StoredDocument>[]) {
    const candidates = documents.flatMap((stored) =>
      [...stored].map(([id, copy], position) => ({ id, copy, shardDoc: position })),
    );
    const matching = candidates.filter(({ copy }) => matches(copy.source, body.query ?? { bool: {} }));
    const sorts: [string, 'asc' | 'desc'][] = (body.sort ?? []).map((clause: Clause) => {
      const [field, spec] = Object.entries(clause)[0] as [string, { order: 'asc' | 'desc' }];
      return [field, spec.order];
    });
    // A search in a point in time gets the implicit `_shard_doc` tie-breaker, as on a real cluster.
    const valuesOf = (hit: (typeof matching)[number]) => [
      ...sorts.map(([field]) => (field === '_score' ? 1 : hit.copy.source[field])),
      ...(body.pit ? [hit.shardDoc] : []),
    ];
    const orders = [...sorts.map(([, order]) => order), ...(body.pit ? ['asc' as const] : [])];
    const ordered = (a: unknown[], b: unknown[]) => {
      for (let i = 0; i < orders.length; i++) {
        const difference = compare(a[i], b[i]);
        if (difference !== 0) return orders[i] === 'desc' ? -difference : difference;
      }
      return 0;
    };
    let hits = matching.map((hit) => ({ hit, sort: valuesOf(hit) })).sort((a, b) => ordered(a.sort, b.sort));
    if (body.search_after) hits = hits.filter(({ sort }) => ordered(sort, body.search_after) > 0);
    const fields: string[] | undefined = body._source;
    return {
      hits: {
        total: { value: matching.length, relation: 'eq' },
        hits: hits.slice(0, body.size ?? 10).map(({ hit, sort }) => ({
          _id: hit.id,
          _score: 1,
          _source: fields
            ? Object.fromEntries(fields.map((field) => [field, hit.copy.source[field]]))
            : hit.copy.source,
          sort,
        })),
      },
    };
  }

  es.on('GET', `/_alias/${readAlias},${writeAlias}`, () =>
    Object.fromEntries(
      layout.readIndices.map((index) => [
        index,
        {
          aliases: {
            [readAlias]: {},
            ...(index === layout.writeIndex ? { [writeAlias]: { is_write_index: true } } : {}),
          },
        },
      ]),
    ),
  );
  es.on('POST', '/_mget', (sent) => {
    const docs = sent.body.docs.map((doc: { _index: string; _id: string; routing?: string }) => {
      if (doc.routing === undefined)
        return { ...doc, error: { type: 'routing_missing_exception', reason: 'routing is required' } };
      const copy = indices.get(doc._index)?.get(doc._id);
      return copy
        ? {
            ...doc,
            found: true,
            _version: copy.version,
            _seq_no: copy.seqNo,
            _primary_term: copy.primaryTerm,
          }
        : { ...doc, found: false };
    });
    state.afterRead?.();
    return { docs };
  });
  es.on('PUT', '/:index/_doc/*', (sent) => {
    const [, target = '', , ...id] = sent.path.split('/');
    const outcome = write('index', target, id.join('/'), sent.querystring, sent.body);
    if (outcome.status === 409) return conflict();
    if (!outcome.stored) return es.error(outcome.status, outcome.type ?? 'error');
    return {
      _index: resolve(target),
      _id: id.join('/'),
      _version: outcome.stored.version,
      _seq_no: outcome.stored.seqNo,
      _primary_term: outcome.stored.primaryTerm,
      result: outcome.status === 201 ? 'created' : 'updated',
    };
  });
  es.on('POST', '/_bulk', (sent) => {
    const operations = sent.body as Clause[];
    const items = [];
    for (let position = 0; position < operations.length; position++) {
      const [action, parameters] = Object.entries(operations[position])[0] as ['index' | 'delete', Clause];
      const source = action === 'index' ? operations[++position] : undefined;
      const rejected = state.rejectBulkItem?.({
        action,
        index: resolve(parameters._index),
        id: parameters._id,
      });
      const outcome = rejected ?? write(action, parameters._index, parameters._id, parameters, source);
      items.push({
        [action]: {
          _index: resolve(parameters._index),
          _id: parameters._id,
          status: outcome.status,
          ...('type' in outcome && outcome.type && outcome.status !== 404
            ? { error: { type: outcome.type, reason: outcome.type } }
            : {}),
        },
      });
    }
    return {
      errors: items.some((item) => Object.values(item)[0]?.error !== undefined),
      items,
    };
  });
  es.on('DELETE', '/:index/_doc/*', (sent) => {
    const [, target = '', , ...id] = sent.path.split('/');
    const outcome = write('delete', target, id.join('/'), sent.querystring);
    if (outcome.status !== 200) return es.error(outcome.status, outcome.type ?? 'not_found');
    return { _index: resolve(target), _id: id.join('/'), result: 'deleted' };
  });
  es.on('PUT', '/:index', (sent) => {
    const index = sent.path.slice(1);
    if (indices.has(index)) return es.error(400, 'resource_already_exists_exception');
    indices.set(index, new Map());
    seqNos.set(index, -1);
    return { acknowledged: true, index };
  });
  es.on('POST', '/:index/_delete_by_query', (sent) => {
    const limit = sent.body.max_docs ?? Number(sent.querystring.max_docs ?? Number.POSITIVE_INFINITY);
    let deleted = 0;
    for (const index of behind(sent.path.split('/')[1] ?? '')) {
      const documents = indices.get(index);
      for (const [id, copy] of documents ?? [])
        if (deleted < limit && matches(copy.source, sent.body.query)) {
          documents?.delete(id);
          seqNos.set(index, (seqNos.get(index) ?? -1) + 1);
          deleted++;
        }
    }
    return { deleted, failures: [] };
  });
  es.on('POST', '/:index/_pit', (sent) => {
    const id = `pit-${++pitCount}`;
    // A frozen copy: later writes are not seen through it.
    pits.set(id, {
      indices: behind(sent.path.split('/')[1] ?? '').map((index) => new Map(indices.get(index))),
      routing: sent.querystring.routing,
    });
    return { id };
  });
  es.on('DELETE', '/_pit', (sent) => ({ succeeded: pits.delete(sent.body.id), num_freed: 1 }));
  es.on('POST', '/_search', (sent) => {
    const pit = pits.get(sent.body.pit?.id);
    if (!pit) return es.error(404, 'search_phase_execution_exception', 'search_context_missing_exception');
    return { ...search(sent.body, pit.indices), pit_id: sent.body.pit.id };
  });
  es.on('POST', '/:index/_search', (sent) => {
    if (sent.body.pit) return es.error(400, 'action_request_validation_exception');
    return search(
      sent.body,
      behind(sent.path.split('/')[1] ?? '').map((index) => indices.get(index) ?? new Map()),
    );
  });

  return {
    es,
    client: es.client,
    names: clusterNames,
    indices,
    layout,
    state,
    /** Every stored source, in every index, the synonyms index included. */
    stored: () =>
      [...indices.values()].flatMap((documents) => [...documents.values()].map((doc) => doc.source)),
    /** Stores a document in `index` as an earlier write with this external version would have. */
    seed(index: string, id: string, source: Record<string, unknown>, version: number) {
      const outcome = write(
        'index',
        index,
        id,
        { routing: source.tenant_id, version, version_type: 'external' },
        source,
      );
      if (!outcome.stored) throw new Error(`seeding ${id} into ${index}: ${outcome.status} ${outcome.type}`);
    },
    /** Points in time still open. */
    openPointsInTime: () => [...pits.keys()],
    /** Ends a point in time as its keep-alive running out would. */
    expire: (id: string) => pits.delete(id),
    /** Moves the write alias to a new, empty backing index, as ILM's rollover does. */
    rollover(index: string) {
      indices.set(index, new Map());
      seqNos.set(index, -1);
      layout.readIndices.push(index);
      layout.writeIndex = index;
    },
  };
}

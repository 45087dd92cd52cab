import type { Client, estypes } from '@elastic/elasticsearch';
import type { DocumentChange, DocumentRecord } from '../../../server/documents/model.ts';
import { stripMarkers } from '../highlighting.ts';
import type { ApplyResult, RejectedChange } from '../search-index.ts';
import { buildTombstoneQuery } from './elasticsearch-query.ts';
import { type AliasLayout, type ElasticsearchNames, readAliasLayout } from './elasticsearch-setup.ts';

/**
 * Every write waits for the next refresh (`refresh=wait_for`): `apply`
 * resolves only once its changes are searchable, as the port promises, so
 * the search generation bumped after it can never be read by a search that
 * still gets the old hits and caches them under it. It costs the indexer up
 * to one refresh interval per batch, not Elasticsearch a forced refresh.
 */
const refresh = 'wait_for';

/** The document as indexed. Deletes are tombstones (`deleted: true`) so their version is never forgotten. */
interface IndexedDocument {
  tenant_id: string;
  doc_id: string;
  deleted: boolean;
  indexed_at: string;
  /** When the delete committed, on a tombstone: the documents store's tombstone has the same time. */
  deleted_at?: string;
  title?: string;
  title_suggest?: string;
  body?: string;
  tags?: string[];
  status?: string;
  author?: string | null;
  created_at?: string;
  updated_at?: string;
}

/** One id per tenant and document: the same document id may exist in two tenants. */
export const indexedId = (tenantId: string, documentId: string) =>
  `${encodeURIComponent(tenantId)}/${documentId}`;

function toIndexed(change: DocumentChange, indexedAt: string): IndexedDocument {
  if (change.operation === 'delete') {
    return {
      tenant_id: change.tenantId,
      doc_id: change.documentId,
      deleted: true,
      indexed_at: indexedAt,
      deleted_at: change.committedAt.toISOString(),
    };
  }
  const document: DocumentRecord | null = change.document;
  if (!document) throw new Error(`Upsert of ${change.documentId} carries no document`);
  const title = stripMarkers(document.title);
  return {
    tenant_id: change.tenantId,
    doc_id: change.documentId,
    deleted: false,
    indexed_at: indexedAt,
    title,
    title_suggest: title,
    body: stripMarkers(document.body),
    tags: [...new Set(document.tags)],
    status: document.status,
    author: document.author,
    created_at: document.createdAt.toISOString(),
    updated_at: document.updatedAt.toISOString(),
  };
}

/**
 * A refusal of the document itself (a mapping or parsing error, an immense term): a retry gets the same
 * answer. Anything else (429, 5xx, a missing index, a forbidden write) is about the cluster, and may pass.
 */
const isPermanentStatus = (status: number) => status === 400;

interface StoredCopy {
  index: string;
  version: number;
  seqNo: number;
  primaryTerm: number;
}

type BulkOperation = estypes.BulkOperationContainer | IndexedDocument;

/** The copies of one document a batch read, and the change it writes. */
type Planned = { id: string; change: DocumentChange; found: StoredCopy[] };

/** Within one batch only the newest change of each document matters. */
function latestPerDocument(changes: readonly DocumentChange[]): Map<string, DocumentChange> {
  const latest = new Map<string, DocumentChange>();
  for (const change of changes) {
    const key = indexedId(change.tenantId, change.documentId);
    const seen = latest.get(key);
    if (!seen || change.version > seen.version) latest.set(key, change);
  }
  return latest;
}

/** The bulk's action lines, and the change each belongs to so a refused item is reported as that change. */
interface BulkPlan {
  operations: BulkOperation[];
  owners: DocumentChange[];
}

/**
 * The operations for one document: nothing but guarded deletes of older copies when the newest copy is
 * at least as new, else its write into the write index and guarded deletes of its copies elsewhere.
 */
function planDocument(
  plan: BulkPlan,
  { id, change, found }: Planned,
  writeIndex: string,
  rewriteEqualVersions: boolean,
  indexedAt: string,
) {
  const push = (action: estypes.BulkOperationContainer, source?: IndexedDocument) => {
    plan.operations.push(action, ...(source ? [source] : []));
    plan.owners.push(change);
  };
  const newest = found.reduce<StoredCopy | undefined>(
    (best, copy) => (!best || copy.version > best.version ? copy : best),
    undefined,
  );
  const guardedDelete = (copy: StoredCopy) => ({
    delete: {
      _index: copy.index,
      _id: id,
      routing: change.tenantId,
      if_seq_no: copy.seqNo,
      if_primary_term: copy.primaryTerm,
    },
  });
  const writes =
    !newest || newest.version < change.version || (rewriteEqualVersions && newest.version === change.version);
  if (!writes) {
    // Nothing to write, but an older copy may linger: a batch whose write landed and whose delete of
    // the old copy did not (a 429, a timeout) is retried, and must still finish the move.
    for (const copy of found) if (copy !== newest) push(guardedDelete(copy));
    return;
  }
  push(
    {
      index: {
        // The write index read above, by name rather than through the alias: if rollover moves the
        // alias meanwhile, the copy still lands where the deletes below expect it.
        _index: writeIndex,
        _id: id,
        routing: change.tenantId,
        version: change.version,
        // external_gte only when rewriting an equal version; a plain apply must be strictly newer.
        version_type: rewriteEqualVersions ? 'external_gte' : 'external',
      },
    },
    toIndexed(change, indexedAt),
  );
  for (const copy of found) if (copy.index !== writeIndex) push(guardedDelete(copy));
}

/** Why a single write failed: nothing (409), the change's permanent refusal, or the cluster's error (thrown). */
function singleWriteOutcome(error: unknown, owner: DocumentChange): ApplyResult {
  const meta = (error as { meta?: { statusCode?: number } }).meta;
  // 409: a version at least as new is already there, which is exactly what idempotency wants.
  if (meta?.statusCode === 409) return { rejected: [] };
  // An answer about this document rather than about the cluster: the change is refused, not the call.
  if (meta?.statusCode !== undefined && isPermanentStatus(meta.statusCode))
    return { rejected: [{ change: owner, error: String((error as Error).message), permanent: true }] };
  throw error;
}

/** The bulk items Elasticsearch refused, one rejection per change. */
function bulkRejections(response: estypes.BulkResponse, owners: readonly DocumentChange[]): ApplyResult {
  if (!response.errors) return { rejected: [] };
  const rejected = new Map<DocumentChange, RejectedChange>();
  response.items.forEach((item, position) => {
    const result = Object.values(item)[0];
    const change = owners[position];
    // 409 is a newer version already there, or an old copy that changed since we read it: both fine.
    // A delete of a copy that is already gone answers 404 without an error, so it never gets here.
    if (!result?.error || result.status === 409 || !change || rejected.get(change)?.permanent) return;
    rejected.set(change, {
      change,
      error: `${result.status} ${result.error.type}: ${result.error.reason}`,
      permanent: isPermanentStatus(result.status),
    });
  });
  return { rejected: [...rejected.values()] };
}

/**
 * The multi-index write protocol. External versioning only dedupes within
 * one index. After a rollover, the write alias points at a new backing index,
 * so an update would land there while the old version stayed in the old
 * index (a duplicate hit), and a replayed old version would land there as if
 * new. So each batch first reads, in real time, every copy of its documents
 * across the backing indices, drops changes that are not newer than the
 * newest copy (tombstones included), writes the rest to the write index with
 * external versioning, and deletes the older copies it saw, guarded by their
 * sequence numbers so a concurrent write is never removed.
 */
export class ElasticsearchWrites {
  readonly #client: Client;
  readonly #names: ElasticsearchNames;

  constructor(client: Client, names: ElasticsearchNames) {
    this.#client = client;
    this.#names = names;
  }

  /**
   * Applies changes as the port's `apply` does. With `rewriteEqualVersions`, a change
   * whose version equals the newest copy is written again (into the write
   * index, removing other copies): the reindex uses it to gather every
   * document into a new index and to mark what it has seen.
   */
  async write(
    changes: readonly DocumentChange[],
    { rewriteEqualVersions }: { rewriteEqualVersions: boolean },
  ): Promise<ApplyResult> {
    const latest = latestPerDocument(changes);
    if (latest.size === 0) return { rejected: [] };
    const layout = await readAliasLayout(this.#client, this.#names);
    const copies = await this.#copiesOf([...latest.values()], layout);
    const indexedAt = new Date().toISOString();
    const plan: BulkPlan = { operations: [], owners: [] };
    for (const [id, change] of latest)
      planDocument(
        plan,
        { id, change, found: copies.get(id) ?? [] },
        layout.writeIndex,
        rewriteEqualVersions,
        indexedAt,
      );
    return this.#execute(plan);
  }

  /**
   * The tenant's synonyms document, then every copy of its documents, tombstones included, in every
   * backing index: one routed delete-by-query over the read alias, waited for and refreshed so a search
   * right after finds nothing.
   */
  async eraseTenant(tenantId: string): Promise<void> {
    await this.#client.delete(
      { index: this.#names.synonymsIndex, id: tenantId, refresh: true },
      { ignore: [404] },
    );
    await this.#client.deleteByQuery({
      index: this.#names.readAlias,
      routing: tenantId,
      conflicts: 'proceed',
      refresh: true,
      wait_for_completion: true,
      query: { term: { tenant_id: tenantId } },
    });
  }

  /**
   * Tombstones of deletes committed before `deletedBefore`, across every backing index. Those written
   * before tombstones carried `deleted_at` go by `indexed_at`, which is never earlier than the delete.
   * A tombstone overwritten meanwhile (the id written again) is a version conflict, which is skipped.
   */
  async pruneTombstones(deletedBefore: Date, limit: number): Promise<number> {
    const response = await this.#client.deleteByQuery({
      index: this.#names.readAlias,
      conflicts: 'proceed',
      max_docs: limit,
      wait_for_completion: true,
      query: buildTombstoneQuery(deletedBefore.toISOString()),
    });
    return response.deleted ?? 0;
  }

  /** Every copy of these documents in any backing index, read in real time (not through a search). */
  async #copiesOf(changes: DocumentChange[], layout: AliasLayout): Promise<Map<string, StoredCopy[]>> {
    const indices = [...new Set([...layout.readIndices, layout.writeIndex])];
    const docs = changes.flatMap((change) =>
      indices.map((index) => ({
        _index: index,
        _id: indexedId(change.tenantId, change.documentId),
        routing: change.tenantId,
        _source: false as const,
      })),
    );
    const response = await this.#client.mget({ docs });
    const copies = new Map<string, StoredCopy[]>();
    for (const doc of response.docs) {
      if ('error' in doc)
        throw new Error(`Reading ${doc._id} from ${doc._index} failed: ${doc.error.reason}`);
      if (!doc.found) continue;
      const list = copies.get(doc._id) ?? [];
      list.push({
        index: doc._index,
        version: doc._version ?? 0,
        seqNo: doc._seq_no ?? 0,
        primaryTerm: doc._primary_term ?? 0,
      });
      copies.set(doc._id, list);
    }
    return copies;
  }

  /**
   * One request either way: a single index call, or a bulk when there is more than one operation.
   * An item Elasticsearch refuses is reported as its change's rejection; the other items stand.
   */
  async #execute({ operations, owners }: BulkPlan): Promise<ApplyResult> {
    if (operations.length === 0) return { rejected: [] };
    const single =
      operations.length === 2
        ? (operations[0] as estypes.BulkOperationContainer | undefined)?.index
        : undefined;
    const document = operations[1] as IndexedDocument | undefined;
    const [owner] = owners;
    if (single && document && owner) {
      const { _index, _id, routing, version, version_type } = single;
      try {
        await this.#client.index({
          index: _index ?? this.#names.writeAlias,
          id: _id,
          routing,
          version,
          version_type,
          document,
          refresh,
        });
      } catch (error) {
        return singleWriteOutcome(error, owner);
      }
      return { rejected: [] };
    }
    return bulkRejections(await this.#client.bulk({ operations, refresh }), owners);
  }
}

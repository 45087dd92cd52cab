import type { Client } from '@elastic/elasticsearch';
import type { DocumentRecord } from '../../../server/documents/model.ts';
import type { ReindexCheckpoint, ReindexTarget } from '../reindex.ts';
import type { ElasticsearchSearchIndex } from './elasticsearch-search-index.ts';
import { type ElasticsearchNames, generationIndexName, readAliasLayout } from './elasticsearch-setup.ts';

const checkpointId = 'current';

const statusOf = (error: unknown) => (error as { meta?: { statusCode?: number } }).meta?.statusCode;
const typeOf = (error: unknown) =>
  (error as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;

/**
 * The checkpoint as one string field. Stored as an object, its fields would be
 * mapped dynamically from the first values seen: a first document id that
 * looks like a date (`2024-01-15`) would map `after.id` as a date, and every
 * later checkpoint would be refused, so the reindex could never finish.
 */
interface StoredCheckpoint {
  checkpoint: string;
}

/** A generation's prefix: rollover adds later indices of it (`…-000002`), which share it. */
const generationOf = (firstIndex: string) => firstIndex.replace(/-\d{6}$/, '-');

/**
 * The reindex on Elasticsearch.
 *
 * Full (no tenant): a new generation of backing indices. `prepare` creates its
 * first index (the template puts it in the read alias) and moves the write
 * alias to it, so from then on the indexer writes there too. Every document
 * is then copied in; copying removes the old copy, so each document is in
 * exactly one backing index throughout and searches see no duplicates and
 * no gaps. `finish` removes the old generation from the read alias and
 * deletes it in one atomic alias change, taking orphans and stale tombstones
 * with it.
 *
 * One tenant: a new index would have to carry every other tenant too, so the
 * tenant is rebuilt in place instead: every one of its documents is written
 * again (stamped `indexed_at`), then whatever of that tenant was not written
 * since the run started (documents the store no longer has) is deleted.
 */
export class ElasticsearchReindexTarget implements ReindexTarget {
  readonly #client: Client;
  readonly #names: ElasticsearchNames;
  readonly #index: ElasticsearchSearchIndex;

  constructor({
    client,
    names,
    index,
  }: {
    client: Client;
    names: ElasticsearchNames;
    index: ElasticsearchSearchIndex;
  }) {
    this.#client = client;
    this.#names = names;
    this.#index = index;
  }

  async loadCheckpoint(): Promise<ReindexCheckpoint | null> {
    try {
      const response = await this.#client.get<StoredCheckpoint>({
        index: this.#names.stateIndex,
        id: checkpointId,
      });
      return response._source ? (JSON.parse(response._source.checkpoint) as ReindexCheckpoint) : null;
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async saveCheckpoint(checkpoint: ReindexCheckpoint): Promise<void> {
    await this.#client.index({
      index: this.#names.stateIndex,
      id: checkpointId,
      document: { checkpoint: JSON.stringify(checkpoint) } satisfies StoredCheckpoint,
      refresh: 'wait_for',
    });
  }

  async clearCheckpoint(): Promise<void> {
    await this.#client.delete({ index: this.#names.stateIndex, id: checkpointId, refresh: 'wait_for' });
  }

  plan(checkpoint: ReindexCheckpoint): ReindexCheckpoint {
    if (checkpoint.tenantId !== undefined) return checkpoint;
    return { ...checkpoint, targetIndex: generationIndexName(this.#names, new Date(checkpoint.startedAt)) };
  }

  async prepare(checkpoint: ReindexCheckpoint): Promise<void> {
    const target = checkpoint.targetIndex;
    if (!target) return;
    try {
      await this.#client.indices.create({ index: target });
    } catch (error) {
      if (typeOf(error) !== 'resource_already_exists_exception') throw error;
    }
    const layout = await readAliasLayout(this.#client, this.#names);
    // Already moved, by an earlier run of this one; rollover may have moved it on within the generation since.
    if (layout.writeIndex.startsWith(generationOf(target))) return;
    // The old write index will never roll over again; telling ILM so keeps it from reporting an error.
    await this.#client.indices.putSettings({
      index: layout.writeIndex,
      settings: { 'index.lifecycle.indexing_complete': true },
    });
    await this.#client.indices.updateAliases({
      actions: [
        { remove: { index: layout.writeIndex, alias: this.#names.writeAlias } },
        { add: { index: target, alias: this.#names.writeAlias, is_write_index: true } },
      ],
    });
  }

  async copy(documents: DocumentRecord[]): Promise<void> {
    const { rejected } = await this.#index.write(
      documents.map((document) => ({
        sequence: 'reindex',
        tenantId: document.tenantId,
        documentId: document.id,
        version: document.version,
        operation: 'upsert' as const,
        document,
        committedAt: document.updatedAt,
      })),
      { rewriteEqualVersions: true },
    );
    // The reindex resumes from its checkpoint, so a refused document stops it where an operator can see why.
    const [first] = rejected;
    if (first)
      throw new Error(
        `Elasticsearch refused ${rejected.length} of ${documents.length} documents; first: ${first.change.documentId}: ${first.error}`,
      );
  }

  async finish(checkpoint: ReindexCheckpoint): Promise<void> {
    const target = checkpoint.targetIndex;
    if (target) {
      const layout = await readAliasLayout(this.#client, this.#names);
      const old = layout.readIndices.filter((index) => !index.startsWith(generationOf(target)));
      if (old.length === 0) return;
      await this.#client.indices.updateAliases({
        actions: old.map((index) => ({ remove_index: { index } })),
      });
      return;
    }
    await this.#client.deleteByQuery({
      index: this.#names.readAlias,
      routing: checkpoint.tenantId,
      conflicts: 'proceed',
      refresh: true,
      query: {
        bool: {
          filter: [
            { term: { tenant_id: checkpoint.tenantId } },
            { range: { indexed_at: { lt: checkpoint.startedAt } } },
          ],
        },
      },
    });
  }
}

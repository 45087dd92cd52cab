import type { Client } from '@elastic/elasticsearch';
import type { ElasticsearchConfig } from '../../../server/config.ts';

/** Every Elasticsearch name Quarry uses, derived from one prefix so test runs and deployments never collide. */
export interface ElasticsearchNames {
  /** Searches go here: every backing index, old and new. */
  readAlias: string;
  /** Writes go here: exactly one backing index at a time (`is_write_index`), moved by rollover. */
  writeAlias: string;
  template: string;
  policy: string;
  /** Backing indices are `<prefix>-<generation>-<6 digits>`; rollover bumps the digits, a reindex the generation. */
  indexPattern: string;
  /** Where `npm run reindex` keeps its checkpoint; deliberately outside `indexPattern`. */
  stateIndex: string;
  /** One document per tenant with its synonyms; outside `indexPattern`, so searches never see it. */
  synonymsIndex: string;
}

export function elasticsearchNames(prefix: string): ElasticsearchNames {
  return {
    readAlias: prefix,
    writeAlias: `${prefix}-write`,
    template: `${prefix}-template`,
    policy: `${prefix}-policy`,
    indexPattern: `${prefix}-*`,
    stateIndex: `${prefix}.reindex-state`,
    synonymsIndex: `${prefix}.synonyms`,
  };
}

/** The first backing index of a fresh cluster; reindex generations after it are named by time. */
export const firstIndexName = (names: ElasticsearchNames) => `${names.readAlias}-g0-000001`;

/** A new generation's first backing index, named so rollover can count up from it. */
export function generationIndexName(names: ElasticsearchNames, at = new Date()): string {
  const stamp = at
    .toISOString()
    .replace(/[-:TZ.]/g, '')
    .slice(0, 17);
  return `${names.readAlias}-g${stamp}-000001`;
}

export type ElasticsearchLayoutSettings = Pick<
  ElasticsearchConfig,
  'shards' | 'replicas' | 'rolloverMaxPrimaryShardSize' | 'rolloverMaxAge' | 'warmAfter' | 'coldAfter'
>;

/**
 * Explicit mappings (dynamic: strict, so a typo in the adapter fails loudly
 * instead of creating a field). `_routing` is required: every document is
 * routed by tenant, and a write without routing would land on another shard.
 */
export function indexMappings() {
  return {
    dynamic: 'strict' as const,
    _routing: { required: true },
    properties: {
      tenant_id: { type: 'keyword' as const },
      doc_id: { type: 'keyword' as const },
      // Deletes are kept as tombstones so their version outlives the 60 s that Elasticsearch keeps deletes.
      deleted: { type: 'boolean' as const },
      title: {
        type: 'text' as const,
        analyzer: 'english',
        fields: { raw: { type: 'keyword' as const, ignore_above: 1024 } },
      },
      // Completions: edge n-grams and shingles of the title, analysed without stemming.
      title_suggest: { type: 'search_as_you_type' as const, max_shingle_size: 3 },
      body: { type: 'text' as const, analyzer: 'english' },
      tags: {
        type: 'keyword' as const,
        fields: { text: { type: 'text' as const, analyzer: 'english' } },
      },
      status: { type: 'keyword' as const },
      author: { type: 'keyword' as const },
      created_at: { type: 'date' as const },
      updated_at: { type: 'date' as const },
      indexed_at: { type: 'date' as const },
      // When a tombstone's delete committed: tombstones older than TOMBSTONE_RETENTION are pruned by it.
      deleted_at: { type: 'date' as const },
    },
  };
}

/**
 * Creates, idempotently, the ILM policy, the index template and, when no
 * write alias exists yet, the first backing index behind both aliases. Safe
 * to run on every start and from `npm run es:setup`.
 */
export async function ensureElasticsearchLayout(
  client: Client,
  names: ElasticsearchNames,
  settings: ElasticsearchLayoutSettings,
): Promise<void> {
  await client.ilm.putLifecycle({
    name: names.policy,
    policy: {
      _meta: { managed_by: 'quarry' },
      phases: {
        hot: {
          actions: {
            set_priority: { priority: 100 },
            rollover: {
              max_primary_shard_size: settings.rolloverMaxPrimaryShardSize,
              max_age: settings.rolloverMaxAge,
            },
          },
        },
        // Warm and cold move a backing index to cheaper nodes (ILM's implicit migrate, by _tier_preference)
        // and lower its recovery priority. No shrink, force-merge or read-only: documents are mutable, and
        // an update deletes the superseded copy from whichever older index holds it, so every index keeps
        // taking deletes. No delete or frozen phase, for the same reason: an old index holds live documents.
        warm: { min_age: settings.warmAfter, actions: { set_priority: { priority: 50 } } },
        cold: { min_age: settings.coldAfter, actions: { set_priority: { priority: 0 } } },
      },
    },
  });
  await client.indices.putIndexTemplate({
    name: names.template,
    index_patterns: [names.indexPattern],
    priority: 200,
    _meta: { managed_by: 'quarry' },
    template: {
      settings: {
        number_of_shards: settings.shards,
        number_of_replicas: settings.replicas,
        'index.lifecycle.name': names.policy,
        'index.lifecycle.rollover_alias': names.writeAlias,
      },
      mappings: indexMappings(),
      // Rollover creates the next backing index from this template, so it joins the read alias by itself.
      aliases: { [names.readAlias]: {} },
    },
  });
  if (await client.indices.existsAlias({ name: names.writeAlias })) {
    // Indices created before a field existed get it here: with strict mappings a write carrying it would
    // otherwise be refused. Putting a field again with the same definition changes nothing.
    await client.indices.putMapping({ index: names.readAlias, properties: indexMappings().properties });
    return;
  }
  try {
    await client.indices.create({
      // A fixed name, not a timestamp: replicas starting together on a fresh cluster must all try the same
      // index, so that one creates it and the rest find it there. Two names would be two write indices for
      // one alias, which Elasticsearch refuses, failing every start but the first.
      index: firstIndexName(names),
      aliases: { [names.writeAlias]: { is_write_index: true } },
    });
  } catch (error) {
    // Another replica starting at the same moment created it first; the alias check above lost the race.
    if (!isAlreadyExists(error)) throw error;
  }
}

/**
 * Creates the synonyms index unless it exists. It is small (a document per
 * tenant that has synonyms), so one shard with a replica where there is a
 * node for it. Its fields are stored, never indexed: a search reads one
 * tenant's document by id.
 */
export async function ensureSynonymsIndex(client: Client, names: ElasticsearchNames): Promise<void> {
  const stored = { type: 'object' as const, enabled: false };
  try {
    await client.indices.create({
      index: names.synonymsIndex,
      settings: { number_of_shards: 1, auto_expand_replicas: '0-1' },
      mappings: {
        dynamic: 'strict',
        properties: {
          tenant_id: { type: 'keyword' },
          equivalents: stored,
          rules: stored,
          lookup: stored,
        },
      },
    });
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
}

function isAlreadyExists(error: unknown): boolean {
  const body = (error as { meta?: { body?: { error?: { type?: string } } } }).meta?.body;
  return body?.error?.type === 'resource_already_exists_exception';
}

/** Which backing indices the aliases point at right now. */
export interface AliasLayout {
  readIndices: string[];
  writeIndex: string;
}

export async function readAliasLayout(client: Client, names: ElasticsearchNames): Promise<AliasLayout> {
  const aliases = await client.indices.getAlias({ name: [names.readAlias, names.writeAlias] });
  const readIndices: string[] = [];
  let writeIndex: string | undefined;
  for (const [index, entry] of Object.entries(aliases)) {
    const onIndex = entry.aliases ?? {};
    if (names.readAlias in onIndex) readIndices.push(index);
    const write = onIndex[names.writeAlias];
    if (write && (write.is_write_index ?? true)) writeIndex = index;
  }
  if (!writeIndex) throw new Error(`Alias ${names.writeAlias} has no write index; run npm run es:setup`);
  return { readIndices: readIndices.sort(), writeIndex };
}

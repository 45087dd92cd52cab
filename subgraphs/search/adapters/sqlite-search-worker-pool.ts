import type { DocumentChange, TombstonePruning } from '../../../server/documents/model.ts';
import type { EmbeddedDatabase } from '../../../server/embedded/sqlite.ts';
import { createWorkerPool, type WorkerPool } from '../../../server/embedded/worker-pool.ts';
import type { OperationalEvents } from '../../../server/observability/events.ts';
import type { ReadOptions } from '../../../server/read-options.ts';
import type { TenantErasure } from '../../../server/tenants/erasure.ts';
import type { ApplyResult, SearchIndex, SearchPage, SearchRequest } from '../search-index.ts';
import type { SynonymStore, Synonyms } from '../synonyms.ts';
import { SqliteSearchIndex } from './sqlite-search-index.ts';

export interface SqliteSearchWorkerInput {
  databasePath: string;
}

type SearchReads = Pick<SearchIndex, 'search' | 'suggest'>;

const poolName = 'sqlite-search';

export interface SqliteSearchWorkerPoolOptions {
  /** The writer: it creates the schema and applies changes on the main connection. Its file is what workers read. */
  database: EmbeddedDatabase;
  /** Worker processes at most, each with its own read connection. */
  workers: number;
  /** How long one search or suggestion may run before it is stopped. */
  deadlineMs: number;
  /** How long one may wait for a free worker before it is refused. */
  queueTimeoutMs: number;
  /** Where lost workers are counted (`pool="sqlite-search"`). Default: nowhere. */
  events?: Pick<OperationalEvents, 'workerLost'>;
}

/**
 * The embedded search index with its reads off the event loop: searches and
 * suggestions run on a pool of workers, each with its own `SqliteSearchIndex`
 * on a read-only connection to the same file (WAL lets them read while the
 * writer commits). A read past its deadline is stopped and answers
 * `DeadlineExceededError`. Writes stay on the caller's connection.
 */
export class SqliteSearchWorkerPool implements SearchIndex, SynonymStore, TenantErasure, TombstonePruning {
  readonly #writer: SqliteSearchIndex;
  readonly #pool: WorkerPool<SearchReads>;

  constructor({ database, workers, deadlineMs, queueTimeoutMs, events }: SqliteSearchWorkerPoolOptions) {
    const databasePath = database.connection.location();
    if (!databasePath) throw new Error('Search workers need a database file; an in-memory database has none');
    // Created first, so the schema exists before any read-only worker opens the file.
    this.#writer = new SqliteSearchIndex(database);
    this.#pool = createWorkerPool<SearchReads>({
      entry: new URL('./sqlite-search-worker.ts', import.meta.url),
      input: { databasePath } satisfies SqliteSearchWorkerInput,
      size: workers,
      deadlineMs,
      queueTimeoutMs,
      name: poolName,
      onWorkerLost: (reason) => events?.workerLost(poolName, reason),
    });
  }

  /** Starts the workers now, rather than on the first search, and waits until they are ready. */
  start(): Promise<void> {
    return this.#pool.start();
  }

  /** A search whose caller stops waiting is stopped too: its worker is killed and replaced. */
  search(request: SearchRequest, options?: ReadOptions): Promise<SearchPage> {
    return this.#pool.callUntil(options?.signal, 'search', request);
  }

  suggest(tenantId: string, prefix: string, first: number, options?: ReadOptions): Promise<string[]> {
    return this.#pool.callUntil(options?.signal, 'suggest', tenantId, prefix, first);
  }

  apply(changes: readonly DocumentChange[]): Promise<ApplyResult> {
    return this.#writer.apply(changes);
  }

  /** A write like `apply`: on the main connection. */
  pruneTombstones(deletedBefore: Date, limit: number): Promise<number> {
    return this.#writer.pruneTombstones(deletedBefore, limit);
  }

  /** A read of one small row, on the main connection: no worker round trip. */
  synonyms(tenantId: string): Promise<Synonyms> {
    return this.#writer.synonyms(tenantId);
  }

  /** A write like `apply`: workers read the new synonyms at their next search. */
  replaceSynonyms(tenantId: string, synonyms: Synonyms): Promise<void> {
    return this.#writer.replaceSynonyms(tenantId, synonyms);
  }

  /** A write like `apply`: on the main connection. Workers find the tables gone at their next read. */
  eraseTenant(tenantId: string): Promise<void> {
    return this.#writer.eraseTenant(tenantId);
  }

  /**
   * Stops the workers; the database belongs to its owner, who closes it. An
   * arrow, since wrappers that pass `close` through call it on themselves.
   */
  close = (): Promise<void> => this.#pool.close();
}

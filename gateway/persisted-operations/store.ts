import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { GraphQLSchema, ValidationRule } from 'graphql';
import type { Logger } from '../../server/logger.ts';
import { loadManifest, type PersistedOperation } from './manifest.ts';

/** Where the gateway looks up safelisted operations by id. */
export interface PersistedOperationStore {
  get(id: string): PersistedOperation | undefined;
  /** Every operation of the manifest now in service. */
  operations(): Iterable<PersistedOperation>;
  close(): void;
}

export interface FileOperationStoreOptions {
  /** The manifest file (PERSISTED_QUERY_MANIFEST). */
  path: string;
  /** The gateway's API schema: every operation is validated against it on load. */
  schema: GraphQLSchema;
  /** Extra validation rules (the operation limits), so a persisted operation obeys them too. */
  rules?: readonly ValidationRule[];
  /** How often the file's stat is polled for changes. Default 2000 ms. */
  reloadIntervalMs?: number;
  /** Called after each reload with the operations the previous manifest did not have. */
  onReload?: (added: PersistedOperation[]) => void;
  logger: Logger;
}

/**
 * The manifest file, parsed and validated once per change. A stat poll, not
 * `fs.watch`: deploy tools replace the file by renaming a new one over it,
 * which silently detaches an inotify watch, and one `stat` every few seconds
 * costs nothing. A manifest that fails to load leaves the previous one in
 * service and logs why; at startup there is no previous one, so it throws.
 */
export function createFileOperationStore({
  path,
  schema,
  rules = [],
  reloadIntervalMs = 2000,
  onReload,
  logger,
}: FileOperationStoreOptions): PersistedOperationStore {
  const signatureOf = (stats: { ino: number; size: number; mtimeMs: number }) =>
    `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  // Stat before reading: a change landing in between is then seen by the next poll, not missed.
  let signature = signatureOf(statSync(path));
  let operations = loadManifest(readFileSync(path, 'utf8'), schema, rules);
  let checking = false;

  async function reloadIfChanged() {
    if (checking) return;
    checking = true;
    try {
      const next = signatureOf(await stat(path));
      if (next === signature) return;
      signature = next;
      const previous = operations;
      operations = loadManifest(await readFile(path, 'utf8'), schema, rules);
      logger.info({ path, operations: operations.size }, 'persisted query manifest reloaded');
      onReload?.([...operations.values()].filter((operation) => !previous.has(operation.id)));
    } catch (error) {
      logger.error({ err: error, path }, 'persisted query manifest not reloaded; keeping the previous one');
    } finally {
      checking = false;
    }
  }

  const timer = setInterval(reloadIfChanged, reloadIntervalMs);
  timer.unref();
  logger.info({ path, operations: operations.size }, 'persisted query manifest loaded');
  return {
    get: (id) => operations.get(id),
    operations: () => operations.values(),
    close: () => clearInterval(timer),
  };
}

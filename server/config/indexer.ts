import { z } from 'zod';
import { defineConcern } from './concern.ts';
import { durationMs, port, positiveInt } from './variables.ts';

/** The indexer: how it polls and retries the outbox, the partitions it claims under leases, tombstone pruning. */
export const indexerConcern = defineConcern({
  shape: {
    INDEXER_PORT: port(4003),
    INDEXER_POLL_MS: positiveInt(100),
    INDEXER_BATCH_SIZE: positiveInt(500),
    INDEXER_MAX_ATTEMPTS: positiveInt(5),
    TOMBSTONE_RETENTION: durationMs('7d').refine((ms) => ms > 0, 'must be longer than 0'),
    TOMBSTONE_PRUNE_INTERVAL: durationMs('1h').refine((ms) => ms > 0, 'must be longer than 0'),
    TOMBSTONE_PRUNE_BATCH_SIZE: positiveInt(1000),
    OUTBOX_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(16),
    INDEXER_LEASE_MS: z.coerce.number().int().min(300).default(15_000),
  },
  section: (env) => ({
    indexer: {
      pollIntervalMs: env.INDEXER_POLL_MS,
      batchSize: env.INDEXER_BATCH_SIZE,
      maxAttempts: env.INDEXER_MAX_ATTEMPTS,
      port: env.INDEXER_PORT,
      /** The outbox's partitions, each held by one indexer at a time under a lease of `leaseMs`. */
      partitions: env.OUTBOX_PARTITIONS,
      leaseMs: env.INDEXER_LEASE_MS,
    },
    tombstones: {
      retentionMs: env.TOMBSTONE_RETENTION,
      pruneIntervalMs: env.TOMBSTONE_PRUNE_INTERVAL,
      pruneBatchSize: env.TOMBSTONE_PRUNE_BATCH_SIZE,
    },
  }),
});

export type IndexerSection = ReturnType<typeof indexerConcern.section>;

import { z } from 'zod';
import { defineConcern } from './concern.ts';
import { port, positiveInt } from './variables.ts';

/** The indexer: how it polls the outbox, and the outbox partitions it claims under leases. */
export const indexerConcern = defineConcern({
  shape: {
    INDEXER_PORT: port(4003),
    INDEXER_POLL_MS: positiveInt(100),
    INDEXER_BATCH_SIZE: positiveInt(500),
    OUTBOX_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(16),
    INDEXER_LEASE_MS: z.coerce.number().int().min(300).default(15_000),
  },
  section: (env) => ({
    indexer: {
      pollIntervalMs: env.INDEXER_POLL_MS,
      batchSize: env.INDEXER_BATCH_SIZE,
      port: env.INDEXER_PORT,
      /** The outbox's partitions, each held by one indexer at a time under a lease of `leaseMs`. */
      partitions: env.OUTBOX_PARTITIONS,
      leaseMs: env.INDEXER_LEASE_MS,
    },
  }),
});

export type IndexerSection = ReturnType<typeof indexerConcern.section>;

import { z } from 'zod';
import { defineConcern } from './concern.ts';
import { port, positiveInt } from './variables.ts';

/** Also read by the gateway concern, which refuses a larger `first` without calling the subgraph. */
export const searchMaxFirst = z.coerce.number().int().min(1).max(1000).default(100);
const searchQueueTimeoutMs = positiveInt(250);

/** The search subgraph: its port, cursor signing, page size and each tenant's share of the backend. */
export const searchConcern = defineConcern({
  shape: {
    SEARCH_PORT: port(4002),
    CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    SEARCH_MAX_FIRST: searchMaxFirst,
    SEARCH_TENANT_CONCURRENCY: positiveInt(2),
    SEARCH_TENANT_QUEUE: z.coerce.number().int().min(0).default(4),
    SEARCH_QUEUE_TIMEOUT_MS: searchQueueTimeoutMs,
  },
  check(env, context, production) {
    if (production && !env.CURSOR_SECRET) {
      context.addIssue({
        code: 'custom',
        path: ['CURSOR_SECRET'],
        message: 'required in production, so every search replica signs cursors with the same key',
      });
    }
  },
  section: (env) => ({
    search: {
      port: env.SEARCH_PORT,
      cursorSecret: env.CURSOR_SECRET,
      maxFirst: env.SEARCH_MAX_FIRST,
      /** Each tenant's share of the search backend, whichever it is. */
      tenantBulkhead: {
        concurrency: env.SEARCH_TENANT_CONCURRENCY,
        queue: env.SEARCH_TENANT_QUEUE,
        queueTimeoutMs: env.SEARCH_QUEUE_TIMEOUT_MS,
      },
    },
  }),
});

/** The embedded backend's search workers: read by every process that opens the search index. */
export const searchWorkersConcern = defineConcern({
  shape: {
    SEARCH_WORKERS: z.coerce.number().int().min(1).max(64).default(4),
    SEARCH_QUERY_TIMEOUT_MS: positiveInt(1000),
    SEARCH_QUEUE_TIMEOUT_MS: searchQueueTimeoutMs,
  },
  section: (env) => ({
    search: {
      /** Worker processes for searches, and how long one search may run on one. */
      workers: env.SEARCH_WORKERS,
      queryTimeoutMs: env.SEARCH_QUERY_TIMEOUT_MS,
      /** How long a search may wait for its tenant's slot, and then for a worker. */
      queueTimeoutMs: env.SEARCH_QUEUE_TIMEOUT_MS,
    },
  }),
});

export type SearchWorkersSection = ReturnType<typeof searchWorkersConcern.section>;

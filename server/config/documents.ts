import { z } from 'zod';
import { defineConcern } from './concern.ts';
import { byteSize, durationMs, parseBytes, port, positiveInt } from './variables.ts';

/** Quota overrides per tier: `premium=10000000/100gb` (documents / stored bytes). */
const tierQuotas = z
  .string()
  .default('')
  .transform((value, context) => {
    const tiers: Record<string, { maxDocuments: number; maxBytes: number }> = {};
    for (const item of value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
      const match = /^([\w-]+)=(\d+)\/(\w+)$/.exec(item);
      const maxBytes = match ? parseBytes(match[3] ?? '') : undefined;
      if (!match || maxBytes === undefined || Number(match[2]) < 1 || maxBytes < 1) {
        context.addIssue({
          code: 'custom',
          message: `"${item}" is not tier=documents/bytes, such as premium=10000000/100gb`,
        });
        return z.NEVER;
      }
      tiers[match[1] as string] = { maxDocuments: Number(match[2]), maxBytes };
    }
    return tiers;
  });

/** The documents subgraph: its port, what a tenant may store, idempotency keys, each tenant's share of the store. */
export const documentsConcern = defineConcern({
  shape: {
    DOCUMENTS_PORT: port(4001),
    QUOTA_MAX_DOCUMENTS: positiveInt(1_000_000),
    QUOTA_MAX_BYTES: byteSize('10gb'),
    QUOTA_TIERS: tierQuotas,
    IDEMPOTENCY_KEY_RETENTION: durationMs('24h').refine((ms) => ms > 0, 'must be longer than 0'),
    DOCUMENTS_TENANT_CONCURRENCY: positiveInt(4),
    DOCUMENTS_TENANT_QUEUE: z.coerce.number().int().min(0).default(8),
    DOCUMENTS_QUEUE_TIMEOUT_MS: positiveInt(250),
  },
  section: (env) => ({
    documents: {
      port: env.DOCUMENTS_PORT,
      /** What a tenant may store: the default, and overrides by the token's tier. */
      quotas: {
        standard: { maxDocuments: env.QUOTA_MAX_DOCUMENTS, maxBytes: env.QUOTA_MAX_BYTES },
        tiers: env.QUOTA_TIERS,
      },
      /** How long a mutation's idempotency key, and the outcome it replays, are kept. */
      idempotencyRetentionMs: env.IDEMPOTENCY_KEY_RETENTION,
      /** Each tenant's share of the document store: reads and writes made for that tenant. */
      tenantBulkhead: {
        concurrency: env.DOCUMENTS_TENANT_CONCURRENCY,
        queue: env.DOCUMENTS_TENANT_QUEUE,
        queueTimeoutMs: env.DOCUMENTS_QUEUE_TIMEOUT_MS,
      },
    },
  }),
});

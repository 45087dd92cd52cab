import type { GraphQLResolverMap } from '@apollo/subgraph';
import type DataLoader from 'dataloader';
import { TENANT_ADMIN_SCOPE, TENANT_ERASE_SCOPE } from '../../server/auth/scopes.ts';
import type { DocumentRecord, DocumentStatus } from '../../server/documents/model.ts';
import { quarryError } from '../../server/errors.ts';
import { DateTimeScalar } from '../../server/graphql/date-time.ts';
import type { ResponseBudget } from '../../server/graphql/response-budget.ts';
import { isDependencyUnavailable } from '../../server/resilience/policy.ts';
import { isTenantBusy } from '../../server/resilience/tenant-bulkheads.ts';
import type { SubgraphContext } from '../../server/subgraph-server.ts';
import type { ErasureJobs } from '../../server/tenants/erasure.ts';
import {
  DocumentExistsError,
  DocumentNotFoundError,
  type DocumentStore,
  IdempotencyKeyReusedError,
  QuotaExceededError,
  VersionConflictError,
  WriteOutcomeUnknownError,
} from './document-store.ts';
import { checkIdempotencyKey, idempotentWrite } from './idempotency.ts';
import { type QuotaConfig, quotaFor } from './quotas.ts';
import { validateIds, validateNewDocument, validatePatch } from './validation.ts';

export interface DocumentsContext extends SubgraphContext {
  /** Per request: every `load` in one tick becomes one `findByIds` call. */
  documentById: DataLoader<string, DocumentRecord | null>;
  /** Bodies are charged to it: the one field whose size a client multiplies with aliases and ids. */
  responseBytes: ResponseBudget;
}

interface DocumentInput {
  title?: string | null;
  body?: string | null;
  tags?: string[] | null;
  author?: string | null;
  status?: DocumentStatus | null;
}

/** Store errors that mean something to a client become coded errors; everything else stays internal. */
function toClientError(error: unknown): unknown {
  if (error instanceof VersionConflictError) {
    return quarryError(
      'VERSION_CONFLICT',
      `Document has changed: it is now at version ${error.currentVersion}`,
      {
        currentVersion: error.currentVersion,
      },
    );
  }
  if (error instanceof DocumentNotFoundError) return quarryError('NOT_FOUND', 'Document not found');
  if (error instanceof DocumentExistsError)
    return quarryError('BAD_USER_INPUT', 'Document id already exists');
  if (error instanceof QuotaExceededError) return quarryError('QUOTA_EXCEEDED', error.message);
  if (error instanceof IdempotencyKeyReusedError)
    return quarryError(
      'IDEMPOTENCY_KEY_REUSED',
      'This idempotency key was already used for a different mutation or input; nothing was written',
      { field: 'idempotencyKey' },
    );
  if (error instanceof WriteOutcomeUnknownError)
    return quarryError(
      'WRITE_OUTCOME_UNKNOWN',
      'The documents store did not confirm the write; it may or may not have been applied. Retry it with the same idempotency key',
    );
  if (isDependencyUnavailable(error))
    return quarryError('DOCUMENTS_UNAVAILABLE', 'Documents temporarily unavailable');
  if (isTenantBusy(error))
    return quarryError('RATE_LIMITED', 'Too many document reads and writes in flight for this tenant', {
      retryAfterSeconds: 1,
    });
  return error;
}

const rethrowForClient = (error: unknown): never => {
  throw toClientError(error);
};

export interface DocumentsResolverOptions {
  quotas: QuotaConfig;
  /** Erasures of whole tenants, run in the background (server/tenants/erasure.ts). */
  erasures: ErasureJobs;
  /** How long a mutation's idempotency key is held: a retry with it until then gets the first outcome. */
  idempotencyRetentionMs: number;
}

function requireScope(context: DocumentsContext, scope: string, what: string) {
  if (!context.principal.scopes.has(scope))
    throw quarryError('FORBIDDEN', `${what} needs the "${scope}" scope`);
}

export function createDocumentsResolvers(
  store: DocumentStore,
  { quotas, erasures, idempotencyRetentionMs }: DocumentsResolverOptions,
): GraphQLResolverMap<DocumentsContext> {
  const writeOptions = (
    context: DocumentsContext,
    operation: string,
    key: string | null | undefined,
    input: unknown,
  ) => ({
    quota: quotaFor(quotas, context.principal.tier),
    idempotency: idempotentWrite(key, operation, input, idempotencyRetentionMs),
  });
  return {
    DateTime: DateTimeScalar,
    Query: {
      document: (_: unknown, { id }: { id: string }, context: DocumentsContext) =>
        context.documentById.load(id).catch(rethrowForClient),
      documents: async (_: unknown, { ids }: { ids: string[] }, context: DocumentsContext) => {
        const results = await context.documentById.loadMany(validateIds(ids));
        const failure = results.find((result) => result instanceof Error);
        if (failure) throw toClientError(failure);
        return results;
      },
      usage: async (_: unknown, _args: unknown, context: DocumentsContext) => {
        requireScope(context, TENANT_ADMIN_SCOPE, 'Reading usage');
        const usage = await store.usage(context.principal.tenantId).catch(rethrowForClient);
        return { ...usage, ...quotaFor(quotas, context.principal.tier) };
      },
    },
    Mutation: {
      createDocument: async (
        _: unknown,
        {
          input,
          idempotencyKey,
        }: { input: DocumentInput & { title: string; body: string }; idempotencyKey?: string | null },
        context: DocumentsContext,
      ) => {
        const document = validateNewDocument(input);
        return store
          .create(
            context.principal.tenantId,
            document,
            undefined,
            writeOptions(context, 'createDocument', idempotencyKey, document),
          )
          .catch(rethrowForClient);
      },
      updateDocument: async (
        _: unknown,
        {
          id,
          input,
          expectedVersion,
          idempotencyKey,
        }: {
          id: string;
          input: DocumentInput;
          expectedVersion?: number | null;
          idempotencyKey?: string | null;
        },
        context: DocumentsContext,
      ) => {
        const patch = validatePatch(input);
        const version = expectedVersion ?? undefined;
        return store
          .update(
            context.principal.tenantId,
            id,
            patch,
            version,
            writeOptions(context, 'updateDocument', idempotencyKey, { id, patch, expectedVersion: version }),
          )
          .catch(rethrowForClient);
      },
      deleteDocument: (
        _: unknown,
        { id, idempotencyKey }: { id: string; idempotencyKey?: string | null },
        context: DocumentsContext,
      ) =>
        store
          .delete(
            context.principal.tenantId,
            id,
            writeOptions(context, 'deleteDocument', idempotencyKey, { id }),
          )
          .catch(rethrowForClient),
      eraseTenantData: async (
        _: unknown,
        { tenantId, idempotencyKey }: { tenantId: string; idempotencyKey?: string | null },
        context: DocumentsContext,
      ) => {
        requireScope(context, TENANT_ERASE_SCOPE, 'Erasing a tenant');
        // Idempotent by itself (asking again is harmless, and the erasure removes the tenant's keys): the key is only checked.
        checkIdempotencyKey(idempotencyKey);
        // The caller names its own tenant again: a confirmation, never a way to reach another.
        if (tenantId !== context.principal.tenantId)
          throw quarryError('BAD_USER_INPUT', "tenantId: must be the caller's own tenant", {
            field: 'tenantId',
          });
        erasures.start(tenantId, context.principal.subject ?? 'unknown subject');
        return true;
      },
    },
    Document: {
      __resolveReference: (reference: { id: string }, context: DocumentsContext) =>
        context.documentById.load(reference.id).catch(rethrowForClient),
      body: (document: DocumentRecord, _: unknown, context: DocumentsContext) =>
        context.responseBytes.charge(document.body),
    },
  };
}

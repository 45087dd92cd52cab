import { createHash } from 'node:crypto';
import { z } from 'zod';
import { documentStatuses } from '../../server/documents/model.ts';
import {
  DocumentExistsError,
  DocumentNotFoundError,
  type DocumentStore,
  type NewDocument,
  VersionConflictError,
} from './document-store.ts';
import { validateNewDocument } from './validation.ts';

/** One JSONL line: a document, with an optional id. Unknown fields are refused so typos are not silently dropped. */
const lineSchema = z
  .object({
    // Bytes, not characters: with the tenant (at most 64) it must fit Elasticsearch's 512-byte _id, or indexing stalls on it.
    id: z
      .string()
      .min(1)
      .refine((id) => Buffer.byteLength(id) <= 200, 'must be at most 200 bytes in UTF-8')
      .optional(),
    title: z.string(),
    body: z.string().default(''),
    tags: z.array(z.string()).optional(),
    author: z.string().nullable().optional(),
    status: z.enum(documentStatuses).optional(),
  })
  .strict();

export interface ImportProgress {
  /** Called after each line, written or not. */
  line(lineNumber: number): void;
  /** A line that was not written, and why. */
  bad(lineNumber: number, reason: string): void;
}

export interface ImportResult {
  /** New documents. */
  written: number;
  /** With `upsert`: documents whose content differed, now at a new version. */
  updated: number;
  /** Already there (same id) and not written again: without `upsert` whatever their content, with it only when unchanged. */
  existing: number;
  bad: number;
}

/**
 * A line without an id gets one derived from the tenant and its content, so
 * importing the same file twice finds the document already there instead of
 * creating a copy. A changed line therefore gets a new id, and `upsert` can
 * only update documents whose lines name their id.
 */
export function derivedId(tenantId: string, document: unknown): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([tenantId, document]))
    .digest('hex');
  return `import-${digest.slice(0, 32)}`;
}

function sameContent(current: NewDocument, next: NewDocument): boolean {
  return (
    current.title === next.title &&
    current.body === next.body &&
    current.author === next.author &&
    current.status === next.status &&
    current.tags.length === next.tags.length &&
    current.tags.every((tag, position) => tag === next.tags[position])
  );
}

function reasonOf(error: unknown): string {
  if (error instanceof z.ZodError) {
    return error.issues.map((issue) => `${issue.path.join('.') || 'line'}: ${issue.message}`).join('; ');
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Imports JSONL into one tenant through the DocumentStore port, so every
 * document also gets its outbox entry and becomes searchable. Lines are
 * validated as the API validates input; a bad line is reported and skipped.
 * Up to `concurrency` writes are in flight at once. With `upsert`, a line
 * whose id exists with different content replaces the whole document (fields
 * the line leaves out take their defaults) as a new version; the write is
 * conditional on the version read, so a concurrent edit makes it a bad line
 * rather than being overwritten.
 */
export async function importDocuments({
  store,
  tenantId,
  lines,
  progress,
  concurrency = 8,
  upsert = false,
}: {
  store: DocumentStore;
  tenantId: string;
  lines: AsyncIterable<string> | Iterable<string>;
  progress: ImportProgress;
  concurrency?: number;
  /** Write a new version of a document whose content differs. Default false: existing ids are left alone. */
  upsert?: boolean;
}): Promise<ImportResult> {
  const result: ImportResult = { written: 0, updated: 0, existing: 0, bad: 0 };
  const inFlight = new Set<Promise<void>>();

  const write = async (id: string, document: NewDocument): Promise<'written' | 'updated' | 'existing'> => {
    try {
      await store.create(tenantId, document, id);
      return 'written';
    } catch (error) {
      if (!(error instanceof DocumentExistsError)) throw error;
    }
    if (!upsert) return 'existing';
    const [current] = await store.findByIds(tenantId, [id]);
    if (current && sameContent(current, document)) return 'existing';
    try {
      if (!current) throw new DocumentNotFoundError();
      await store.update(tenantId, id, document, current.version);
      return 'updated';
    } catch (error) {
      if (error instanceof VersionConflictError || error instanceof DocumentNotFoundError) {
        throw new Error('changed or deleted by someone else while the import ran; import it again');
      }
      throw error;
    }
  };

  const importLine = async (lineNumber: number, text: string) => {
    try {
      const parsed = lineSchema.parse(JSON.parse(text));
      const { id, ...fields } = parsed;
      const document = validateNewDocument(fields);
      result[await write(id ?? derivedId(tenantId, document), document)] += 1;
    } catch (error) {
      result.bad += 1;
      progress.bad(lineNumber, reasonOf(error));
    }
    progress.line(lineNumber);
  };

  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    // Editors on Windows start UTF-8 files with a byte order mark, which JSON.parse refuses.
    const text = lineNumber === 1 ? line.replace(/^\uFEFF/, '') : line;
    if (!text.trim()) {
      progress.line(lineNumber);
      continue;
    }
    const task = importLine(lineNumber, text).finally(() => inFlight.delete(task));
    inFlight.add(task);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return result;
}

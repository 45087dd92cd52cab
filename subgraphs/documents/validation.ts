import type { DocumentStatus } from '../../server/documents/model.ts';
import { quarryError } from '../../server/errors.ts';
import type { DocumentPatch, NewDocument } from './document-store.ts';

/** Limits that keep one document indexable and one response a sane size. */
export const documentLimits = {
  titleLength: 300,
  bodyLength: 100_000,
  tagCount: 32,
  tagLength: 64,
  authorLength: 200,
  idsPerRequest: 100,
} as const;

interface DocumentInput {
  title?: string | null;
  body?: string | null;
  tags?: readonly string[] | null;
  author?: string | null;
  status?: DocumentStatus | null;
}

function invalid(field: string, message: string): never {
  throw quarryError('BAD_USER_INPUT', `${field}: ${message}`, { field });
}

function checkTitle(title: string): string {
  const trimmed = title.trim();
  if (!trimmed) invalid('title', 'must not be empty');
  if (trimmed.length > documentLimits.titleLength)
    invalid('title', `must be at most ${documentLimits.titleLength} characters`);
  return trimmed;
}

function checkBody(body: string): string {
  if (body.length > documentLimits.bodyLength)
    invalid('body', `must be at most ${documentLimits.bodyLength} characters`);
  return body;
}

/** Tags are trimmed and de-duplicated; order is kept as given. */
function checkTags(tags: readonly string[]): string[] {
  const unique = [...new Set(tags.map((tag) => tag.trim()))];
  if (unique.length > documentLimits.tagCount) invalid('tags', `at most ${documentLimits.tagCount} tags`);
  for (const tag of unique) {
    if (!tag) invalid('tags', 'tags must not be empty');
    if (tag.length > documentLimits.tagLength)
      invalid('tags', `each tag must be at most ${documentLimits.tagLength} characters`);
  }
  return unique;
}

function checkAuthor(author: string | null): string | null {
  const trimmed = author?.trim() || null;
  if (trimmed && trimmed.length > documentLimits.authorLength) {
    invalid('author', `must be at most ${documentLimits.authorLength} characters`);
  }
  return trimmed;
}

export function validateNewDocument(input: DocumentInput & { title: string; body: string }): NewDocument {
  return {
    title: checkTitle(input.title),
    body: checkBody(input.body),
    tags: checkTags(input.tags ?? []),
    author: checkAuthor(input.author ?? null),
    status: input.status ?? 'DRAFT',
  };
}

/** Only fields that are present change; an explicit null clears `author` and is refused elsewhere. */
export function validatePatch(input: DocumentInput): DocumentPatch {
  const patch: DocumentPatch = {};
  if (input.title !== undefined)
    patch.title = checkTitle(input.title ?? invalid('title', 'must not be null'));
  if (input.body !== undefined) patch.body = checkBody(input.body ?? invalid('body', 'must not be null'));
  if (input.tags !== undefined) patch.tags = checkTags(input.tags ?? invalid('tags', 'must not be null'));
  if (input.author !== undefined) patch.author = checkAuthor(input.author);
  if (input.status !== undefined) patch.status = input.status ?? invalid('status', 'must not be null');
  return patch;
}

export function validateIds(ids: readonly string[]): readonly string[] {
  if (ids.length > documentLimits.idsPerRequest)
    invalid('ids', `at most ${documentLimits.idsPerRequest} ids per request`);
  return ids;
}

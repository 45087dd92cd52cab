import type { GraphQLResolverMap } from '@apollo/subgraph';
import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import { SEARCH_ADMIN_SCOPE } from '../../server/auth/scopes.ts';
import type { DocumentStatus } from '../../server/documents/model.ts';
import { isDeadlineExceeded, isWorkersBusy } from '../../server/embedded/worker-pool.ts';
import { quarryError } from '../../server/errors.ts';
import { DateTimeScalar } from '../../server/graphql/date-time.ts';
import type { CacheStatus } from '../../server/observability/request-outcome.ts';
import { isDependencyUnavailable } from '../../server/resilience/policy.ts';
import { isTenantBusy } from '../../server/resilience/tenant-bulkheads.ts';
import type { SubgraphContext } from '../../server/subgraph-server.ts';
import type { CursorCodec } from './cursor.ts';
import { parseQuery, TooManyQueryTermsError } from './query-parser.ts';
import {
  type FacetField,
  isPagingSessionExpired,
  type SearchFilter,
  type SearchIndex,
  type SearchSort,
} from './search-index.ts';
import { InvalidSynonymsError, type SynonymStore, type Synonyms, validateSynonyms } from './synonyms.ts';

export interface SearchContext extends SubgraphContext {
  /** How the search was served, for the request's log line. */
  cacheStatus?: CacheStatus;
}

export interface SearchLimits {
  /** Largest page; bigger requests are refused rather than silently cut, so clients notice. */
  maxFirst: number;
}

const maxQueryLength = 500;
const maxPrefixLength = 100;
const maxSuggestions = 20;

interface SearchArgs {
  query: string;
  filter?: {
    tags?: string[] | null;
    status?: DocumentStatus[] | null;
    author?: string | null;
    updatedAfter?: Date | null;
    updatedBefore?: Date | null;
  } | null;
  /** Null when a client sends an explicit null, which skips the schema's default. */
  sort: SearchSort | null;
  first: number;
  after?: string | null;
  facets?: FacetField[] | null;
  /** Null when a client sends an explicit null, which skips the schema's default. */
  typoTolerance?: boolean | null;
}

function invalid(field: string, message: string): never {
  throw quarryError('BAD_USER_INPUT', `${field}: ${message}`, { field });
}

function requireSearchAdmin(context: SearchContext, what: string) {
  if (!context.principal.scopes.has(SEARCH_ADMIN_SCOPE))
    throw quarryError('FORBIDDEN', `${what} needs the "${SEARCH_ADMIN_SCOPE}" scope`);
}

/** Checked before anything is written; a field outside the bounds is named as the client sent it. */
function checkSynonyms(input: Synonyms): Synonyms {
  try {
    return validateSynonyms(input);
  } catch (error) {
    if (error instanceof InvalidSynonymsError) invalid(`input.${error.field}`, error.reason);
    throw error;
  }
}

function checkFirst(first: number, max: number): number {
  if (first < 1 || first > max) invalid('first', `must be between 1 and ${max}`);
  return first;
}

function toFilter(input: SearchArgs['filter']): SearchFilter {
  const filter: SearchFilter = {};
  if (input?.tags?.length) filter.tags = input.tags;
  if (input?.status?.length) filter.status = input.status;
  if (input?.author) filter.author = input.author;
  if (input?.updatedAfter) filter.updatedAfter = input.updatedAfter;
  if (input?.updatedBefore) filter.updatedBefore = input.updatedBefore;
  return filter;
}

/** What a cursor is bound to: the same text, filter, sort and typo tolerance; facets may change between pages. */
function fingerprint(text: string, filter: SearchFilter, sort: SearchSort, typoTolerance: boolean): string {
  return JSON.stringify([
    text,
    sort,
    typoTolerance,
    filter.tags,
    filter.status,
    filter.author,
    filter.updatedAfter,
    filter.updatedBefore,
  ]);
}

/**
 * Whether the operation selects `path` below this field, through aliases and
 * fragments, so work for fields nobody asked for (highlights, didYouMean) is skipped.
 */
function selects(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  const within = (selectionSet: SelectionSetNode | undefined, rest: readonly string[]): boolean => {
    if (rest.length === 0) return true;
    const [name, ...deeper] = rest;
    return (selectionSet?.selections ?? []).some((selection) => {
      if (selection.kind === 'Field') {
        return selection.name.value === name && within(selection.selectionSet, deeper);
      }
      const fragment = selection.kind === 'InlineFragment' ? selection : info.fragments[selection.name.value];
      return within(fragment?.selectionSet, rest);
    });
  };
  return info.fieldNodes.some((node) => within(node.selectionSet, path));
}

/**
 * A backend that failed, timed out or sits behind an open breaker is a coded, retryable error for clients;
 * so is a tenant past its share of the backend. A query stopped at its deadline is coded apart: the same
 * query would be stopped again.
 */
function toClientError(error: unknown): never {
  if (isPagingSessionExpired(error))
    invalid('after', 'the paging session of this cursor has expired; search again from the first page');
  if (isDependencyUnavailable(error) || isWorkersBusy(error))
    throw quarryError('SEARCH_UNAVAILABLE', 'Search temporarily unavailable');
  if (isDeadlineExceeded(error)) throw quarryError('SEARCH_TIMEOUT', 'Search took too long and was stopped');
  if (isTenantBusy(error))
    throw quarryError('RATE_LIMITED', 'Too many searches in flight for this tenant', {
      retryAfterSeconds: 1,
    });
  throw error;
}

export function createSearchResolvers(
  index: SearchIndex,
  cursors: CursorCodec,
  limits: SearchLimits,
  synonyms: SynonymStore,
): GraphQLResolverMap<SearchContext> {
  return {
    DateTime: DateTimeScalar,
    Query: {
      search: async (_: unknown, args: SearchArgs, context: SearchContext, info: GraphQLResolveInfo) => {
        const { tenantId } = context.principal;
        const text = args.query.trim();
        if (text.length > maxQueryLength) invalid('query', `must be at most ${maxQueryLength} characters`);
        try {
          parseQuery(text);
        } catch (error) {
          if (error instanceof TooManyQueryTermsError) invalid('query', error.message);
          throw error;
        }
        const first = checkFirst(args.first, limits.maxFirst);
        const filter = toFilter(args.filter);
        const sort = args.sort ?? 'RELEVANCE';
        const typoTolerance = args.typoTolerance !== false;
        const boundTo = fingerprint(text, filter, sort, typoTolerance);
        const position = args.after ? cursors.decode(tenantId, boundTo, args.after) : undefined;
        const page = await index
          .search(
            {
              tenantId,
              text,
              filter,
              sort,
              first,
              after: position?.sortKey,
              session: position?.session,
              facets: [...new Set(args.facets ?? [])],
              highlights: selects(info, ['hits', 'highlights']),
              typoTolerance,
              didYouMean: selects(info, ['didYouMean']),
            },
            { signal: context.signal },
          )
          .catch(toClientError);
        // Sticky: with two searches in one operation, a fresh page after a stale one must not hide it.
        if (context.cacheStatus !== 'stale') context.cacheStatus = page.cacheStatus;
        const last = page.hits.at(-1);
        return {
          total: page.total,
          hits: page.hits.map((hit) => ({
            score: hit.score,
            highlights: hit.highlights,
            document: { __typename: 'Document', id: hit.documentId },
          })),
          facets: page.facets,
          pageInfo: {
            endCursor: last
              ? cursors.encode(tenantId, boundTo, { sortKey: last.sortKey, session: page.session })
              : null,
            hasNextPage: page.hasNextPage,
          },
          stale: page.stale === true,
          didYouMean: page.didYouMean ?? null,
        };
      },
      suggest: async (
        _: unknown,
        { prefix, first }: { prefix: string; first: number },
        context: SearchContext,
      ) => {
        if (prefix.length > maxPrefixLength)
          invalid('prefix', `must be at most ${maxPrefixLength} characters`);
        return index
          .suggest(context.principal.tenantId, prefix.trim(), checkFirst(first, maxSuggestions), {
            signal: context.signal,
          })
          .catch(toClientError);
      },
      synonyms: async (_: unknown, _args: unknown, context: SearchContext) => {
        requireSearchAdmin(context, 'Reading synonyms');
        return synonyms.synonyms(context.principal.tenantId).catch(toClientError);
      },
    },
    Mutation: {
      setSynonyms: async (_: unknown, { input }: { input: Synonyms }, context: SearchContext) => {
        requireSearchAdmin(context, 'Changing synonyms');
        const checked = checkSynonyms(input);
        await synonyms.replaceSynonyms(context.principal.tenantId, checked).catch(toClientError);
        return checked;
      },
    },
  };
}

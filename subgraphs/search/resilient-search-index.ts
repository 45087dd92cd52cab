import type { DependencyPolicy } from '../../server/resilience/policy.ts';
import type { SearchIndex } from './search-index.ts';

/**
 * Every index call under the search-index policy. Searches and suggestions
 * retry; `apply` runs once, and the indexer's own backoff (with the outbox
 * keeping the changes) is its retry.
 */
export function resilientSearchIndex(index: SearchIndex, policy: DependencyPolicy): SearchIndex {
  return {
    search: (request) => policy.run(() => index.search(request), { idempotent: true, operation: 'search' }),
    suggest: (tenantId, prefix, first) =>
      policy.run(() => index.suggest(tenantId, prefix, first), { idempotent: true, operation: 'suggest' }),
    apply: (changes) => policy.run(() => index.apply(changes), { idempotent: false, operation: 'apply' }),
    close: () => index.close(),
  };
}

import type { DocumentStore } from '../../subgraphs/documents/document-store.ts';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';

export type CallCounts = Map<string, number>;

/**
 * Wraps a port so every method call is counted by name, delegating to the
 * real adapter. The end-to-end tests use it to prove batching (one search
 * call, one document batch per request) and that refused input writes nothing.
 */
export function countCalls<T extends DocumentStore | SearchIndex>(target: T, counts: CallCounts): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        counts.set(property, (counts.get(property) ?? 0) + 1);
        return value.apply(object, args);
      };
    },
  });
}

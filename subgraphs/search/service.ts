import { subgraphTypeDefs } from '../../schema/subgraphs.ts';
import {
  type RunningSubgraph,
  type SubgraphHostOptions,
  startSubgraphServer,
} from '../../server/subgraph-server.ts';
import { createCursorCodec } from './cursor.ts';
import { createSearchResolvers, type SearchContext, type SearchLimits } from './resolvers.ts';
import type { SearchIndex } from './search-index.ts';
import { useStaleMarker } from './stale-marker.ts';
import type { SynonymStore } from './synonyms.ts';

export interface SearchServiceOptions extends SubgraphHostOptions {
  index: SearchIndex;
  synonyms: SynonymStore;
  /** HMAC key for cursors; every replica must share it. */
  cursorSecret: string;
  limits: SearchLimits;
}

export function startSearchService(options: SearchServiceOptions): Promise<RunningSubgraph> {
  return startSubgraphServer<SearchContext>({
    ...options,
    typeDefs: subgraphTypeDefs('search'),
    resolvers: createSearchResolvers(
      options.index,
      createCursorCodec(options.cursorSecret),
      options.limits,
      options.synonyms,
    ),
    createContext: (principal, signal) => ({ principal, signal }),
    plugins: [useStaleMarker()],
  });
}

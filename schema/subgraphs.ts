import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type DocumentNode, parse } from 'graphql';

/** The subgraphs in composition order, with the URL each has in the committed supergraph (local defaults). */
export const subgraphs = [
  { name: 'documents', url: 'http://127.0.0.1:4001/graphql' },
  { name: 'search', url: 'http://127.0.0.1:4002/graphql' },
] as const;

export type SubgraphName = (typeof subgraphs)[number]['name'];

export const supergraphPath = fileURLToPath(new URL('./supergraph.graphql', import.meta.url));

export function subgraphSdl(name: SubgraphName): string {
  return readFileSync(new URL(`./${name}.graphql`, import.meta.url), 'utf8');
}

export function subgraphTypeDefs(name: SubgraphName): DocumentNode {
  return parse(subgraphSdl(name));
}

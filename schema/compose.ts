import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { subgraphSdl, subgraphs } from './subgraphs.ts';

/** Composes the subgraph SDLs into a supergraph, throwing with every composition error listed. */
export function composeSupergraph(): string {
  const result = composeServices(
    subgraphs.map(({ name, url }) => ({ name, url, typeDefs: parse(subgraphSdl(name)) })),
  );
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((error) => `  ${error.message}`).join('\n')}`);
  }
  return result.supergraphSdl;
}

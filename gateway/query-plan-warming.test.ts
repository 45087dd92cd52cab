import { readFile } from 'node:fs/promises';
import { Supergraph } from '@apollo/federation-internals';
import { describe, expect, it } from 'vitest';
import { manifestPath } from '../schema/operations.ts';
import { loadManifest } from './persisted-operations/manifest.ts';
import { createQueryPlanCache, queryPlanKeys, warmQueryPlans } from './query-plan-warming.ts';

describe('query plans warmed at start', () => {
  it('plans every persisted operation under the keys the gateway looks it up by, with and without its name', async () => {
    const supergraphSdl = await readFile(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8');
    const schema = Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema();
    const operations = [...loadManifest(await readFile(manifestPath, 'utf8'), schema).values()];
    const cache = createQueryPlanCache();
    expect(await warmQueryPlans({ supergraphSdl, operations, cache })).toBe(operations.length);
    for (const operation of operations) {
      const [unnamed, named] = queryPlanKeys(operation);
      // Apollo Server's queryHash of a persisted operation is its manifest id.
      expect(unnamed).toBe(operation.id);
      const plan = await cache.get(named);
      expect(plan?.kind, operation.name).toBe('QueryPlan');
      expect(await cache.get(unnamed)).toBe(plan);
    }
  });
});

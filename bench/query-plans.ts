/**
 * What warming the persisted operations' plans at start saves their first
 * requests: the time to plan each one, as a gateway that was not warmed
 * plans it on its first request. "First" is each operation's plan in a
 * fresh process and planner, in manifest order (the planner's code is cold
 * for the first one, as after a start); "again" is the median of replanning
 * it with the JIT warm, which a gateway pays for an operation whose plan has
 * fallen out of its plan cache.
 *
 *   node bench/query-plans.ts
 */
import { readFile } from 'node:fs/promises';
import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import { QueryPlanner } from '@apollo/query-planner';
import { loadManifest } from '../gateway/persisted-operations/manifest.ts';
import { manifestPath } from '../schema/operations.ts';

export interface PlanTime {
  name: string;
  /** Milliseconds to plan it the first time in this process. */
  firstMs: number;
  /** Median milliseconds over `rounds` later plans of it. */
  againMs: number;
}

export async function timeQueryPlans(rounds = 50): Promise<PlanTime[]> {
  const supergraphSdl = await readFile(new URL('../schema/supergraph.graphql', import.meta.url), 'utf8');
  const supergraph = Supergraph.build(supergraphSdl);
  const apiSchema = supergraph.apiSchema();
  const operations = [
    ...loadManifest(await readFile(manifestPath, 'utf8'), apiSchema.toGraphQLJSSchema()).values(),
  ];
  const planner = new QueryPlanner(supergraph);
  const planMs = (operation: (typeof operations)[number]) => {
    const started = process.hrtime.bigint();
    planner.buildQueryPlan(
      operationFromDocument(apiSchema, operation.document, { operationName: operation.name }),
    );
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const firsts = operations.map((operation) => planMs(operation));
  return operations.map((operation, i) => {
    const again = Array.from({ length: rounds }, () => planMs(operation)).sort((a, b) => a - b);
    return { name: operation.name, firstMs: firsts[i]!, againMs: again[Math.floor(again.length / 2)]! };
  });
}

if (import.meta.main) {
  const times = await timeQueryPlans();
  console.log('| persisted operation | first plan ms | again, median ms |');
  console.log('| --- | ---: | ---: |');
  for (const { name, firstMs, againMs } of times)
    console.log(`| ${name} | ${firstMs.toFixed(2)} | ${againMs.toFixed(3)} |`);
}

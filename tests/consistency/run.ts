import { parseArgs } from 'node:util';
import { describeViolation, runConsistencyCheck } from './checker.ts';

/**
 * `npm run check:consistency -- [--seed N] [--minutes M] [--operations K]`:
 * a randomized history with faults against real processes, checked against
 * docs/caching-and-resilience.md. Exits 1 on any violation, printing the
 * seed to replay it with.
 */
const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    minutes: { type: 'string', default: '10' },
    operations: { type: 'string', default: '200000' },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const minutes = Number(values.minutes);
const maxOperations = Number(values.operations);
if (!Number.isInteger(seed) || !(minutes > 0) || !(maxOperations > 0)) {
  console.error(
    'usage: npm run check:consistency -- [--seed integer] [--minutes number] [--operations integer]',
  );
  process.exit(2);
}
// Exiting through process.exit runs the cluster's exit hook, which kills the processes it started.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
console.log(`consistency check: seed ${seed}, up to ${minutes} min and ${maxOperations} operations`);
const result = await runConsistencyCheck({
  seed,
  durationMs: minutes * 60_000,
  maxOperations,
  clientsPerTenant: 3,
  faultsPerMinute: 6,
  searchBoundMs: process.env.ELASTICSEARCH_URL ? 3000 : 2000,
  replicaBoundMs: 500,
  log: (line) => console.log(line),
});
const acknowledged = result.operations.filter((operation) => operation.ok).length;
console.log(
  `${result.operations.length} operations (${acknowledged} acknowledged), ${result.faults.length} faults, ${result.violations.length} violations`,
);
for (const violation of result.violations.slice(0, 20)) console.log(describeViolation(seed, violation));
process.exit(result.violations.length > 0 ? 1 : 0);

import { parseArgs } from 'node:util';
import { describeViolation, isRateLimited, runConsistencyCheck } from './checker.ts';

/**
 * `npm run check:consistency -- [--seed N] [--minutes M] [--operations K] [--refresh-ms R] [--faults-per-minute F]`:
 * a randomized history with faults against real processes, checked against
 * docs/caching-and-resilience.md. Exits 1 on any violation, printing the
 * seed to replay it with.
 */
const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    minutes: { type: 'string', default: '10' },
    operations: { type: 'string', default: '200000' },
    'refresh-ms': { type: 'string', default: '1000' },
    'faults-per-minute': { type: 'string', default: '6' },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const minutes = Number(values.minutes);
const maxOperations = Number(values.operations);
// Elasticsearch's visibility delay on the embedded index (a real ELASTICSEARCH_URL has its own); 0 for none.
const refreshIntervalMs = Number(values['refresh-ms']);
const faultsPerMinute = Number(values['faults-per-minute']);
if (
  !Number.isInteger(seed) ||
  !(minutes > 0) ||
  !(maxOperations > 0) ||
  !(refreshIntervalMs >= 0) ||
  !(faultsPerMinute >= 0)
) {
  console.error(
    'usage: npm run check:consistency -- [--seed integer] [--minutes number] [--operations integer] [--refresh-ms integer] [--faults-per-minute number]',
  );
  process.exit(2);
}
// Exiting through process.exit runs the cluster's exit hook, which kills the processes it started.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
console.log(
  `consistency check: seed ${seed}, up to ${minutes} min and ${maxOperations} operations, refresh ${refreshIntervalMs} ms`,
);
const result = await runConsistencyCheck({
  seed,
  durationMs: minutes * 60_000,
  maxOperations,
  clientsPerTenant: 3,
  faultsPerMinute,
  // docs/caching-and-resilience.md: 2 s, plus the refresh interval (Elasticsearch's default is 1 s) where writes wait for one.
  searchBoundMs: 2000 + (process.env.ELASTICSEARCH_URL ? 1000 : refreshIntervalMs),
  replicaBoundMs: 500,
  refreshIntervalMs,
  log: (line) => console.log(line),
});
const acknowledged = result.operations.filter((operation) => operation.ok).length;
const rateLimited = result.operations.filter(isRateLimited).length;
console.log(
  `${result.operations.length} operations (${acknowledged} acknowledged, ${rateLimited} RATE_LIMITED), ${result.faults.length} faults, ${result.violations.length} violations`,
);
const byGuarantee = Map.groupBy(result.violations, (violation) => violation.guarantee);
for (const [guarantee, violations] of byGuarantee) console.log(`${guarantee}: ${violations.length}`);
for (const violation of result.violations.slice(0, 20)) console.log(describeViolation(seed, violation));
process.exit(result.violations.length > 0 ? 1 : 0);

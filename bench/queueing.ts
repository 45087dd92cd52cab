/**
 * What queueing alone does to a tail at a fixed rate: p99 over p50 of the
 * response time of `servers` identical servers sharing one queue, with
 * random (Poisson) arrivals and a constant service time (M/D/c), at a given
 * utilisation. Under random arrivals (real traffic from many clients), one
 * event loop at 50% of its maximum cannot show a p99 under about 4.3× its
 * p50, however fast each request is. The bench's own arrivals are not
 * random (see bench/load-runner.ts), so this bounds production traffic
 * more than the bench's measurement.
 *
 *   node bench/queueing.ts                  # the table docs/benchmarks.md quotes
 *   node bench/queueing.ts --requests 200000
 */
import { Command, InvalidArgumentError } from 'commander';
import { createRandom } from './corpus.ts';

/** p50 and p99 of the response time, in service times. */
export function simulateTail(
  utilisation: number,
  servers: number,
  requests: number,
  seed = 7,
): { p50: number; p99: number } {
  // Seeded, so the table is the same on every run.
  const next = createRandom(seed);
  const freeAt = new Float64Array(servers);
  const responseTimes = new Float64Array(requests);
  let now = 0;
  for (let i = 0; i < requests; i += 1) {
    now += -Math.log(1 - next()) / (utilisation * servers);
    let soonest = 0;
    for (let s = 1; s < servers; s += 1) if (freeAt[s]! < freeAt[soonest]!) soonest = s;
    freeAt[soonest] = Math.max(now, freeAt[soonest]!) + 1;
    responseTimes[i] = freeAt[soonest]! - now;
  }
  responseTimes.sort();
  const at = (p: number) => responseTimes[Math.ceil(p * requests) - 1]!;
  return { p50: at(0.5), p99: at(0.99) };
}

if (import.meta.main) {
  const { requests } = new Command('queueing')
    .description('p99/p50 of M/D/c queues at a fixed utilisation')
    .option(
      '--requests <n>',
      'simulated requests per row',
      (value) => {
        const parsed = Number(value);
        if (!Number.isInteger(parsed) || parsed < 1000) throw new InvalidArgumentError('an integer ≥ 1000');
        return parsed;
      },
      2_000_000,
    )
    .parse()
    .opts<{ requests: number }>();
  console.log('| servers | utilisation | p99 / p50 |\n| ---: | ---: | ---: |');
  for (const [servers, utilisation] of [
    [1, 0.3],
    [1, 0.5],
    [2, 0.5],
    [4, 0.5],
  ] as const) {
    const { p50, p99 } = simulateTail(utilisation, servers, requests);
    console.log(`| ${servers} | ${utilisation} | ${(p99 / p50).toFixed(2)} |`);
  }
}

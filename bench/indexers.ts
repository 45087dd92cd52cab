/**
 * `npm run bench:indexers`: indexing throughput with 1, 2 and 3 indexer
 * processes. For each count it writes the corpus into a fresh embedded
 * database (so the outbox holds every change), starts the indexers while a
 * gate holds every partition's lease, lifts the gate, and times how long
 * the indexers take to empty the outbox between them.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { SqlitePartitionLeases } from '../indexer/adapters/sqlite-partition-leases.ts';
import { EmbeddedDatabase } from '../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../subgraphs/documents/adapters/sqlite-document-store.ts';
import { createCorpus } from './corpus.ts';
import { type Child, freePort, makeWorkDir, startChild, waitUntil } from './processes.ts';

interface IndexersOptions {
  documents: number;
  tenants: number;
  partitions: number;
  counts: number[];
  seed: number;
  out: string;
}

interface CountResult {
  indexers: number;
  changes: number;
  seconds: number;
  changesPerSecond: number;
}

const positive = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return parsed;
};
const countsOf = (value: string) => value.split(',').map((item) => positive(item.trim()));

const program = new Command('bench:indexers')
  .description('Indexing throughput with several indexer processes on the embedded backend')
  .option('--documents <n>', 'changes in the outbox', positive, 5000)
  .option('--tenants <n>', 'tenants the documents are spread over', positive, 24)
  .option('--partitions <n>', 'OUTBOX_PARTITIONS', positive, 12)
  .option('--counts <list>', 'indexer counts to measure', countsOf, [1, 2, 3])
  .option('--seed <n>', 'corpus PRNG seed', positive, 7)
  .option('--out <dir>', 'where results are written', resolve(import.meta.dirname, 'results'))
  .parse();
const options = program.opts<IndexersOptions>();

const root = resolve(import.meta.dirname, '..');
/** Short, so that the indexers notice the gate lifting within a fraction of a second. */
const leaseMs = 600;
const gate = 'bench-gate';

async function measure(indexers: number): Promise<CountResult> {
  const dataDir = makeWorkDir('quarry-bench-indexers-');
  const database = new EmbeddedDatabase(join(dataDir, 'quarry.db'));
  const children: Child[] = [];
  try {
    const store = new SqliteDocumentStore(database);
    const leases = new SqlitePartitionLeases(database);
    // Closed until every indexer runs, so none starts alone with the whole outbox.
    const closedUntil = new Date(Date.now() + 3_600_000);
    for (let partition = 0; partition < options.partitions; partition += 1)
      await leases.acquire(partition, gate, new Date(), closedUntil);
    const corpus = createCorpus({
      documents: options.documents,
      tenants: options.tenants,
      seed: options.seed,
    });
    for (const { tenantId, id, ...document } of corpus.documents())
      await store.create(tenantId, document, id);

    for (let n = 0; n < indexers; n += 1) {
      const port = await freePort();
      const child = startChild({
        name: `indexer-${n}`,
        script: join(root, 'indexer/main.ts'),
        env: {
          NODE_ENV: 'test',
          LOG_LEVEL: 'warn',
          DATA_DIR: dataDir,
          INDEXER_PORT: String(port),
          OUTBOX_PARTITIONS: String(options.partitions),
          INDEXER_LEASE_MS: String(leaseMs),
        },
        logFile: join(dataDir, `indexer-${n}.log`),
      });
      children.push(child);
      await waitUntil(`indexer ${n}`, async () => (await fetch(`http://127.0.0.1:${port}/health/live`)).ok, {
        child,
      });
    }
    // Every indexer has announced itself by the time it answers, so each takes only its share.
    const started = performance.now();
    for (let partition = 0; partition < options.partitions; partition += 1)
      await leases.release(partition, gate);
    while ((await store.oldestPendingAt()) !== null) await sleep(20);
    const seconds = (performance.now() - started) / 1000;
    return {
      indexers,
      changes: options.documents,
      seconds,
      changesPerSecond: options.documents / seconds,
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results: CountResult[] = [];
for (const count of options.counts) {
  const result = await measure(count);
  results.push(result);
  console.log(
    `${count} indexer(s): ${result.changes} changes in ${result.seconds.toFixed(2)} s, ${Math.round(result.changesPerSecond)} changes/s`,
  );
}

const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\..*/, 'Z');
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, load ${loadavg()[0]?.toFixed(1)} at the end`;
const markdown = [
  `# Indexing throughput by indexer count (${stamp})`,
  '',
  `Embedded backend, ${options.documents} changes over ${options.tenants} tenants, ${options.partitions} partitions; ${machine}.`,
  '',
  '| indexers | seconds | changes/s |',
  '| --- | --- | --- |',
  ...results.map((r) => `| ${r.indexers} | ${r.seconds.toFixed(2)} | ${Math.round(r.changesPerSecond)} |`),
  '',
].join('\n');
mkdirSync(options.out, { recursive: true });
writeFileSync(join(options.out, `indexers-${stamp}.json`), JSON.stringify({ options, results }, null, 2));
writeFileSync(join(options.out, 'indexers-latest.md'), markdown);
console.log(`\n${markdown}`);

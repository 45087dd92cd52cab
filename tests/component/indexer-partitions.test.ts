import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { SqliteDocumentStore } from '../../subgraphs/documents/adapters/sqlite-document-store.ts';
import { sampleValue, scrape } from '../helpers/prometheus.ts';
import { freePort } from '../helpers/redis-server.ts';

// Three (or two) production indexer processes on one embedded database, as on one host: the test writes
// through the document store into the shared file and reads the search index's versions back from it.

/** How long an indexer may take to start on a loaded machine. */
const startBoundMs = 60_000;
/** How long the indexers may take to apply a few hundred changes, or to settle their shares. */
const settleBoundMs = 60_000;
/** Each test starts processes and waits for them several times over, each wait under its own bound. */
const testBoundMs = 4 * startBoundMs;

interface LeaseEvent {
  at: number;
  indexer: string;
  partition: number;
  event: 'acquired' | 'released' | 'lost';
}

interface IndexerProcess {
  name: string;
  child: ChildProcess;
  metricsUrl: string;
  readyUrl: string;
}

let dataDir: string;
let db: EmbeddedDatabase;
let store: SqliteDocumentStore;
const indexers: IndexerProcess[] = [];
/** Every lease event any indexer logged, in arrival order. */
const history: LeaseEvent[] = [];
/** Re-checked whenever an indexer logs a line, so tests wait for what they need, not for a time. */
const waiters = new Set<() => void>();
const notify = () => {
  for (const check of waiters) check();
};

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'quarry-partitions-'));
  db = new EmbeddedDatabase(join(dataDir, 'quarry.db'));
  store = new SqliteDocumentStore(db);
  history.length = 0;
});

afterEach(async () => {
  await Promise.all(indexers.splice(0).map((indexer) => kill(indexer)));
  waiters.clear();
  db.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function kill(indexer: IndexerProcess) {
  const { child } = indexer;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function startIndexer(name: string, env: Record<string, string>): Promise<IndexerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['indexer/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      INDEXER_PORT: String(port),
      INDEXER_POLL_MS: '20',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const indexer: IndexerProcess = {
    name,
    child,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    readyUrl: `http://127.0.0.1:${port}/health/ready`,
  };
  indexers.push(indexer);
  let output = '';
  let running = false;
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    output = (output + line).slice(-4000);
    let entry: { msg: string; time: string; partition?: number; expiredAt?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (entry.msg.startsWith('indexer running')) running = true;
    const event = {
      'partition acquired': 'acquired',
      'partition released': 'released',
      'partition lease lost': 'lost',
    }[entry.msg] as LeaseEvent['event'] | undefined;
    if (event && entry.partition !== undefined) {
      history.push({
        at: Date.parse(entry.expiredAt ?? entry.time),
        indexer: name,
        partition: entry.partition,
        event,
      });
    }
    notify();
  });
  child.once('exit', notify);
  await until(() => running || child.exitCode !== null, startBoundMs, `${name} to start`);
  if (!running) throw new Error(`${name} did not start (exit ${child.exitCode}): ${output}`);
  return indexer;
}

function until(condition: () => boolean, boundMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`gave up waiting ${boundMs} ms for ${what}`));
    }, boundMs);
    const check = () => {
      if (!condition()) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
}

/** Who holds what, replayed from the indexers' own lease events. */
function holdings(): Map<string, Set<number>> {
  const held = new Map(indexers.map((indexer) => [indexer.name, new Set<number>()]));
  for (const { indexer, partition, event } of history) {
    if (event === 'acquired') held.get(indexer)?.add(partition);
    else held.get(indexer)?.delete(partition);
  }
  return held;
}

const shares = () => [...holdings().values()].map((partitions) => partitions.size);

/**
 * No partition was ever held by two indexers at once, as each indexer saw its own claims: a claim starts
 * when its lease was written and ends when the indexer released it, saw it lost, or was killed (`deaths`).
 */
function expectNoOverlap(deaths: Map<string, number> = new Map()) {
  const events = [
    ...history,
    ...[...deaths].flatMap(([indexer, at]) =>
      [...(holdings().get(indexer) ?? [])].map((partition) => ({
        at,
        indexer,
        partition,
        event: 'released' as const,
      })),
    ),
  ].sort((a, b) => a.at - b.at || (a.event === 'acquired' ? 1 : 0) - (b.event === 'acquired' ? 1 : 0));
  const holder = new Map<number, string>();
  for (const { indexer, partition, event } of events) {
    if (event === 'acquired') {
      expect(holder.get(partition), `partition ${partition} taken by ${indexer}`).toBeUndefined();
      holder.set(partition, indexer);
    } else if (holder.get(partition) === indexer) holder.delete(partition);
  }
}

/** Creates, updates and deletes across many tenants; returns each document's last version and how many changes. */
async function writeChanges(wave: string, expected: Map<string, number>): Promise<number> {
  let changes = 0;
  for (let t = 0; t < 12; t += 1) {
    const tenant = `tenant-${t}`;
    for (let d = 0; d < 8; d += 1) {
      const id = `${wave}-${d}`;
      let record = await store.create(
        tenant,
        { title: `${wave} ${d}`, body: '', tags: [], author: null, status: 'DRAFT' },
        id,
      );
      changes += 1;
      if (d % 2 === 0) {
        record = await store.update(tenant, id, { title: `${wave} ${d} edited` });
        changes += 1;
      }
      let version = record.version;
      if (d % 4 === 1) {
        await store.delete(tenant, id);
        version += 1;
        changes += 1;
      }
      expected.set(`${tenant}/${id}`, version);
    }
  }
  return changes;
}

async function drained() {
  const deadline = performance.now() + settleBoundMs;
  while ((await store.oldestPendingAt()) !== null) {
    if (performance.now() > deadline) throw new Error(`the outbox did not drain within ${settleBoundMs} ms`);
    await sleep(50);
  }
}

/** The version the search index keeps for every document it has seen, deletes included. */
function indexedVersions(): Map<string, number> {
  const rows = db.connection.prepare('SELECT tenant_id, doc_id, version FROM search_versions').all() as {
    tenant_id: string;
    doc_id: string;
    version: number;
  }[];
  return new Map(rows.map((row) => [`${row.tenant_id}/${row.doc_id}`, row.version]));
}

it(
  'spreads the partitions over three indexers, one holder each, and applies every change once',
  async () => {
    const env = { OUTBOX_PARTITIONS: '6', INDEXER_LEASE_MS: '5000' };
    await Promise.all(['a', 'b', 'c'].map((name) => startIndexer(name, env)));
    await until(() => shares().every((count) => count === 2), settleBoundMs, 'two partitions each');

    const expected = new Map<string, number>();
    const written = await writeChanges('one', expected);
    await drained();

    expect(indexedVersions()).toEqual(expected);
    const samples = await Promise.all(indexers.map((indexer) => scrape(indexer.metricsUrl)));
    const applied = samples.map((sample) => sampleValue(sample, 'quarry_indexer_changes_applied_total') ?? 0);
    expect(applied.reduce((sum, count) => sum + count, 0)).toBe(written);
    // Every indexer had tenants to apply: the partitions spread the work, not only the leases.
    for (const count of applied) expect(count).toBeGreaterThan(0);
    for (const sample of samples) {
      expect(sampleValue(sample, 'quarry_indexer_partitions_held')).toBe(2);
      expect(sampleValue(sample, 'quarry_indexer_lease_losses_total')).toBe(0);
    }
    expectNoOverlap();
  },
  testBoundMs,
);

it(
  'absorbs a kill -9 of one indexer within the lease: its partitions move and indexing goes on',
  async () => {
    const leaseMs = 3000;
    const env = { OUTBOX_PARTITIONS: '6', INDEXER_LEASE_MS: String(leaseMs) };
    await Promise.all(['a', 'b', 'c'].map((name) => startIndexer(name, env)));
    await until(() => shares().every((count) => count === 2), settleBoundMs, 'two partitions each');
    const expected = new Map<string, number>();
    await writeChanges('before', expected);
    await drained();

    const [victim, ...survivors] = indexers as [IndexerProcess, ...IndexerProcess[]];
    const orphaned = [...(holdings().get(victim.name) ?? [])];
    await kill(victim);
    const killedAt = Date.now();
    await writeChanges('after', expected);

    const survivorsHoldAll = () => {
      const held = holdings();
      return survivors.every((indexer) => held.get(indexer.name)?.size === 3);
    };
    // The dead holder's last renewal can be a third of a lease old, so the lease runs out at most a lease after
    // the kill; a survivor's next round comes within another third. The rest is room for a loaded machine.
    const takeoverBoundMs = leaseMs + leaseMs / 3 + 2000;
    await until(survivorsHoldAll, settleBoundMs, 'the survivors to take every partition');
    const takenOver = history
      .filter(
        (entry) => entry.event === 'acquired' && orphaned.includes(entry.partition) && entry.at >= killedAt,
      )
      .map((entry) => entry.at);
    expect(takenOver).toHaveLength(orphaned.length);
    expect(Math.max(...takenOver) - killedAt).toBeLessThanOrEqual(takeoverBoundMs);

    await drained();
    expect(indexedVersions()).toEqual(expected);
    expectNoOverlap(new Map([[victim.name, killedAt]]));
    for (const indexer of survivors) {
      expect(sampleValue(await scrape(indexer.metricsUrl), 'quarry_indexer_partitions_held')).toBe(3);
    }
  },
  testBoundMs,
);

it(
  'keeps a standby with no partition ready, and hands it the partition when the holder dies',
  async () => {
    const env = { OUTBOX_PARTITIONS: '1', INDEXER_LEASE_MS: '2000' };
    const holder = await startIndexer('holder', env);
    const standby = await startIndexer('standby', env);
    expect(shares()).toEqual([1, 0]);
    const ready = await fetch(standby.readyUrl);
    expect(ready.status).toBe(200);
    expect(sampleValue(await scrape(standby.metricsUrl), 'quarry_indexer_partitions_held')).toBe(0);

    await kill(holder);
    await until(() => holdings().get('standby')?.size === 1, settleBoundMs, 'the standby to take over');
    const expected = new Map<string, number>();
    await writeChanges('late', expected);
    await drained();
    expect(indexedVersions()).toEqual(expected);
  },
  testBoundMs,
);

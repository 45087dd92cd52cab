import { afterEach, beforeEach, expect, it } from 'vitest';
import { SqlitePartitionLeases } from '../../indexer/adapters/sqlite-partition-leases.ts';
import { type PartitionClaims, startPartitionClaims } from '../../indexer/partition-claims.ts';
import { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import { createLogger } from '../../server/logger.ts';

// Rounds (a third of it) come often enough for a quick test; a lease outlasts a loaded machine's timer delays.
const leaseMs = 2000;
const logger = createLogger({ level: 'silent' });

let db: EmbeddedDatabase;
let leases: SqlitePartitionLeases;
const started: PartitionClaims[] = [];
/** Re-checked after every round of every claimant, so a test awaits the state it needs rather than a time. */
const waiters = new Set<() => void>();
const losses: string[] = [];

beforeEach(() => {
  db = new EmbeddedDatabase(':memory:');
  leases = new SqlitePartitionLeases(db);
  losses.length = 0;
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((claims) => claims.stop()));
  db.close();
});

async function claimant(holder: string, count: number): Promise<PartitionClaims> {
  const claims = await startPartitionClaims({
    leases,
    holder,
    count,
    leaseMs,
    logger,
    events: {
      held: () => {
        for (const check of waiters) check();
      },
      lost: (partition) => losses.push(`${holder}:${partition}`),
    },
  });
  started.push(claims);
  return claims;
}

function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!condition()) return;
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
}

it('spreads the partitions evenly over the running indexers, each partition to one of them', async () => {
  const first = await claimant('first', 6);
  expect(first.held()).toEqual([0, 1, 2, 3, 4, 5]);
  const second = await claimant('second', 6);
  const third = await claimant('third', 6);
  const all = [first, second, third];
  await until(() => all.every((claims) => claims.held().length === 2));
  expect(all.flatMap((claims) => claims.held()).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
  expect(losses).toEqual([]);
});

it('keeps a standby idle, and hands it the partitions as soon as their holder stops', async () => {
  const alone = await claimant('alone', 1);
  const spare = await claimant('spare', 1);
  expect(alone.held()).toEqual([0]);
  let ran = false;
  expect(
    await spare.whileHeld(async () => {
      ran = true;
    }),
  ).toBeUndefined();
  expect(ran).toBe(false);
  await alone.stop();
  await until(() => spare.held().length === 1);
  expect(await spare.whileHeld(async (scope) => scope)).toEqual({ count: 1, partitions: [0] });
});

it('gives up a partition for a newcomer only after the batch running on it has finished', async () => {
  const busy = await claimant('busy', 2);
  let finishBatch = () => {};
  const batch = busy.whileHeld(() => new Promise<void>((resolve) => (finishBatch = resolve)));
  const newcomer = await claimant('newcomer', 2);
  // Finished whatever happens, or stopping the claimants would wait on it forever.
  try {
    // The busy indexer has decided to hand one partition over: its next batch already leaves it out.
    await until(() => busy.held().length === 1);
    let newcomerRounds = 0;
    await until(() => ++newcomerRounds > 3);
    expect(newcomer.held()).toEqual([]);
    expect((await leases.snapshot(new Date())).leases.map((lease) => lease.holder)).toEqual(['busy', 'busy']);
  } finally {
    finishBatch();
  }
  await batch;
  await until(() => newcomer.held().length === 1);
  expect([...busy.held(), ...newcomer.held()].sort()).toEqual([0, 1]);
});

it('counts a lease taken over before renewal as lost, and stops applying that partition', async () => {
  const claims = await claimant('slow', 2);
  expect(claims.held()).toEqual([0, 1]);
  // Another indexer that saw the lease expired (its clock a lease ahead) takes partition 1.
  const later = new Date(Date.now() + leaseMs * 2);
  expect(await leases.acquire(1, 'intruder', later, new Date(later.getTime() + leaseMs))).toBe(true);
  await until(() => losses.length > 0);
  expect(losses).toEqual(['slow:1']);
  expect(await claims.whileHeld(async (scope) => scope.partitions)).toEqual([0]);
});

import { describe, expect, it } from 'vitest';
import { type CheckOptions, checkHistory, type FaultEvent, type Operation } from './checker.ts';

/** The checker's bounds as `npm run check:consistency` sets them. */
const options: CheckOptions = {
  seed: 1,
  durationMs: 60_000,
  maxOperations: 1000,
  clientsPerTenant: 3,
  faultsPerMinute: 0,
  searchBoundMs: 3000,
  replicaBoundMs: 500,
  refreshIntervalMs: 1000,
};
const tenant = 'consistency-a';
const id = 'd1';

/** One acknowledged operation of client 1 (unless said otherwise) on document d1. */
function operation(
  kind: Operation['kind'],
  [invokedAt, completedAt]: [number, number],
  seen: Record<string, number | null>,
  more: Partial<Operation> = {},
): Operation {
  const versions = new Map(Object.entries(seen));
  return {
    client: 1,
    tenant,
    gateway: 0,
    kind,
    ids: [...versions.keys()],
    invokedAt,
    completedAt,
    ok: true,
    versions,
    response: {},
    ...more,
  };
}

const created = operation('create', [0, 10], { [id]: 1 }, { client: 2, word: 'w' });
const guarantees = (history: Operation[], faults: FaultEvent[] = []) =>
  checkHistory(history, faults, options).map((violation) => violation.guarantee);

describe('the consistency checker: monotonic reads', () => {
  it('allows a client to see a delete in flight and then the version before it, through another replica', () => {
    // The delete has committed (a read through gateway 0 misses every cache and sees it) but not yet
    // answered, so gateway 1 still serves its cached response: the seed 68859835 report, 219 ms apart.
    const deleting = operation('delete', [1000, 1400], { [id]: Number.POSITIVE_INFINITY }, { client: 2 });
    const history = [
      created,
      deleting,
      operation('read', [1100, 1150], { [id]: null }),
      operation('read', [1369, 1390], { [id]: 1 }, { gateway: 1 }),
    ];
    expect(guarantees(history)).toEqual([]);
  });

  it('reports the same two reads once the delete has answered, past the invalidation bound', () => {
    const deleted = operation('delete', [1000, 1050], { [id]: Number.POSITIVE_INFINITY }, { client: 2 });
    const history = [
      created,
      deleted,
      operation('read', [1100, 1150], { [id]: null }),
      operation('read', [1600, 1620], { [id]: 1 }, { gateway: 1 }),
    ];
    expect(guarantees(history)).toEqual(['read-your-writes', 'monotonic-reads']);
  });

  it('reports an older version after one whose write failed without an answer, past the bound', () => {
    // No read-your-writes here: the update was never acknowledged, but the client saw it.
    const uncertain = operation('update', [1000, 1050], {}, { client: 2, ok: false, ids: [id] });
    const history = [
      created,
      uncertain,
      operation('read', [1060, 1080], { [id]: 2 }),
      operation('read', [1600, 1620], { [id]: 1 }, { gateway: 1 }),
    ];
    expect(guarantees(history)).toEqual(['monotonic-reads']);
  });

  it('checks every document a read names', () => {
    const other = operation('create', [0, 10], { d2: 1 }, { client: 2 });
    const updated = operation('update', [20, 30], { d2: 2 }, { client: 2 });
    const history = [created, other, updated, operation('read', [1000, 1010], { [id]: 1, d2: 1 })];
    expect(guarantees(history)).toEqual(['read-your-writes']);
  });
});

describe('the consistency checker: the search bound', () => {
  const search = (at: number, hits: string[]) =>
    operation('search', [at, at + 20], Object.fromEntries(hits.map((hit) => [hit, null])), {
      word: 'w',
      complete: true,
      stale: false,
    });
  const fault = (kind: FaultEvent['fault']): FaultEvent => ({ fault: kind, startedAt: 500, endedAt: 1500 });

  it('reports a search that misses a write older than the bound, whatever Redis went through', () => {
    for (const kind of ['redis-flushall', 'redis-restart'] as const)
      expect(guarantees([created, search(5000, [])], [fault(kind)])).toEqual(['search-bound']);
  });

  it("waits for a killed indexer's partition leases to expire before holding a search to the bound", () => {
    const lateCreate = operation('create', [16_000, 16_010], { [id]: 1 }, { word: 'w' });
    expect(guarantees([lateCreate, search(19_100, [])], [fault('indexer-kill')])).toEqual([]);
    expect(guarantees([lateCreate, search(19_100, [])], [fault('search-restart')])).toEqual(['search-bound']);
  });

  it('does not hold a search to the bound across a restart or a slow backend', () => {
    for (const kind of ['indexer-kill', 'search-restart', 'documents-restart', 'documents-slow'] as const)
      expect(guarantees([created, search(5000, [])], [fault(kind)])).toEqual([]);
  });
});

import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRandom } from '../../bench/corpus.ts';
import { responseGenerationKey } from '../../server/cache/cache.ts';
import { postGraphQL } from '../helpers/test-stack.ts';
import { type Cluster, startCluster } from './cluster.ts';

export interface CheckOptions {
  seed: number;
  /** The workload stops at whichever comes first. */
  durationMs: number;
  maxOperations: number;
  clientsPerTenant: number;
  /** Faults injected per minute of workload, on average; 0 for none. */
  faultsPerMinute: number;
  /** How long after an acknowledged write a search must reflect it (docs/caching-and-resilience.md). */
  searchBoundMs: number;
  /** How long a replica may still serve a copy from before another replica's write (the invalidation bound). */
  replicaBoundMs: number;
  /** How long the embedded index keeps a write invisible, as Elasticsearch's refresh interval; 0 for none. */
  refreshIntervalMs: number;
  log?: (line: string) => void;
}

/**
 * What the workload's clients do; the probe's refused mutations are apart.
 * A `page` is a search whose hits' versions come from the documents
 * subgraph through the gateway's entity cache: read like `read`, per hit.
 */
type ClientKind = 'create' | 'update' | 'delete' | 'read' | 'search' | 'page';
type Kind = ClientKind | 'refused';
/**
 * The faults whose races the workload sets up lead every round, so a short
 * run meets them: the losses of Redis's data first (the quiet tenant browses
 * again after each, and an outage before them would excuse the searches
 * that show a page from before its first write), then the slow store (busy
 * clients race reads with writes); the restarts follow.
 */
const dataLossFaults = ['redis-flushall', 'redis-restart'] as const;
const restartFaults = ['indexer-kill', 'search-restart', 'documents-restart'] as const;
type Fault = (typeof dataLossFaults)[number] | 'documents-slow' | (typeof restartFaults)[number];

/** A workload client: its number, and the tenant it acts for. */
interface Client {
  number: number;
  tenant: string;
}

/** One operation as a client saw it: what it asked, when, through which gateway, and what came back. */
export interface Operation {
  client: number;
  tenant: string;
  gateway: number;
  kind: Kind;
  /** The documents it names: the one written, the ones read, or the ones a searched word was written into. */
  ids: string[];
  word?: string;
  invokedAt: number;
  completedAt: number;
  /** Acknowledged (data, no errors) or not; an unacknowledged write may or may not have happened. */
  ok: boolean;
  /** id to version read (null: absent); for writes, the version written (Infinity for a delete). */
  versions: Map<string, number | null>;
  stale?: boolean;
  /** For a search: whether every match is on the page, so a missing document is a real miss. */
  complete?: boolean;
  /** For a refused mutation: the tenant's response generation in Redis just before and just after it. */
  generations?: [string | null | undefined, string | null | undefined];
  response: unknown;
}

export interface FaultEvent {
  fault: Fault;
  startedAt: number;
  endedAt: number;
}

export interface Violation {
  guarantee: string;
  detail: string;
  operations: Operation[];
}

export interface CheckResult {
  seed: number;
  operations: Operation[];
  faults: FaultEvent[];
  violations: Violation[];
}

/** Whether the gateway refused the operation for its tenant's rate limit. */
export const isRateLimited = (operation: Operation): boolean =>
  (operation.response as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors?.some(
    (error) => error.extensions?.code === 'RATE_LIMITED',
  ) ?? false;

/** The fault injector's seed, from the run's. */
export const faultSeed = (seed: number) => (seed ^ 0x9e3779b9) >>> 0;

/** A small seeded generator (the bench's), so a seed replays the same choices. */
export const seededRandom = createRandom;

/**
 * Runs a seeded, randomized workload against a real cluster while injecting
 * faults, then checks the history against the stated guarantees. The
 * schedule of choices is reproducible from the seed; timings are not, so a
 * violation is reported with the operations and responses that show it.
 */
export async function runConsistencyCheck(options: CheckOptions): Promise<CheckResult> {
  const cluster = await startCluster({ refreshIntervalMs: options.refreshIntervalMs });
  try {
    const { operations, faults } = await runWorkload(cluster, options);
    const violations = checkHistory(operations, faults, options);
    return { seed: options.seed, operations, faults, violations };
  } finally {
    await cluster.stop();
  }
}

/**
 * A busy tenant, and a quiet one where one client writes, seldom, and the
 * others only read and search. The quiet tenant's generation counters stay
 * low and change only when its writer writes, so counters restarted from 0
 * after a loss would soon repeat values that copies kept in process were
 * stored under; and nothing else moves its search generation while its
 * writer looks for what it wrote.
 */
const tenants = ['consistency-a', 'consistency-b'];
const quiet = (tenant: string) => tenant === 'consistency-b';
/** A client's share of writes: `member` is its place among its tenant's clients. */
const writeShareOf = (tenant: string, member: number) => (quiet(tenant) ? (member === 0 ? 0.1 : 0) : 1);
/** Only refused mutations run here, so its response generation must never move (issue #9). */
const probeTenant = 'consistency-probe';
/** Enough words that many searches are asked once, and their cached answer is not replaced soon after. */
const wordsOf = (tenant: string) => (quiet(tenant) ? 6 : 60);
/** Searches each client makes before anything else. */
const browseFirst = 4;
/** Half the reads and writes go to the tenant's latest documents, so reads race writes of the same one. */
const hotDocuments = 3;
/** Documents one read names at most. */
const readMaxDocuments = 3;
/**
 * Page sizes a search asks for: 91 to 100. One search then has many cache
 * entries, each asked seldom, as a long tail of queries does: an entry kept
 * in process is still there, unreplaced, when the tenant's counters next
 * read the generations it was stored under.
 */
const pageSizes = 10;
/**
 * Each tenant's operations a second, all its clients together: under the
 * standard tier's limit of 50 (RATE_LIMIT_TIERS), so that nearly every
 * operation is answered rather than refused with RATE_LIMITED.
 */
const tenantOperationsPerSecond = 40;
/**
 * The page size of the quiet tenant's browsing (below), which no other
 * search asks for: its copies kept in process are never replaced by a later
 * ask, until a loss of Redis's data has the tenant's clients browse again.
 */
const browsePageSize = 90;
/** A busy client's share of steps that race a read of its latest document with a write of it. */
const raceShare = 0.15;
/** About how long a racing write waits after the read it races: long enough for the read to reach the store first. */
const writeAfterReadMs = 100;
/** How long the fault injector waits at most for the gateways to follow Redis again after a restart. */
const redisRecoveryBoundMs = 15_000;
/** How long after the search bound the quiet tenant's writer still looks for a document it created. */
const lookForWriteMarginMs = 1000;
/** The slow backend: how late the documents store answers at most, under its 2 s attempt timeout, and for how long. */
const slowStoreDelayMs = 500;
const slowStoreForMs = 8000;

/** Up to `count` distinct items of `from`, in a seeded order. */
function pick<T>(random: () => number, from: readonly T[], count: number): T[] {
  const pool = [...from];
  const picked: T[] = [];
  while (picked.length < count && pool.length > 0)
    picked.push(...pool.splice(Math.floor(random() * pool.length), 1));
  return picked;
}

async function runWorkload(cluster: Cluster, options: CheckOptions) {
  const tokens = Object.fromEntries(
    await Promise.all([...tenants, probeTenant].map(async (t) => [t, await cluster.token(t)])),
  );
  const readOnlyToken = await cluster.token(probeTenant, { scopes: ['documents:read'] });
  const operations: Operation[] = [];
  const faults: FaultEvent[] = [];
  /** Per tenant: ids it created, and the word each was created with (searched for later). */
  const known = new Map(tenants.map((tenant) => [tenant, [] as { id: string; word: string }[]]));
  /** Words drawn up front, so some are searched for before any document holds them. */
  const words = tenants.flatMap((tenant) =>
    Array.from({ length: wordsOf(tenant) }, (_, n) => ({
      tenant,
      word: `w${options.seed.toString(36)}x${tenant.at(-1)}${n}`,
    })),
  );
  /** Losses of Redis's data (FLUSHALL, a restart) so far: the quiet tenant's clients browse again after each. */
  let dataLosses = 0;
  /** The quiet tenant's writer has browsed and written: the faults may begin. */
  const warmedUp = Promise.withResolvers<void>();
  const started = performance.now();
  const done = () =>
    performance.now() - started > options.durationMs || operations.length >= options.maxOperations;
  /** Until the workload's time is up: the fault injector waits no longer, so the run ends with it. */
  const timeLeft = () => Math.max(0, options.durationMs - (performance.now() - started));
  // Each client and the fault injector draw from their own generator, seeded from the run's seed: each
  // one's sequence of choices is fixed by the seed, whatever the interleaving.
  const plan = (random: () => number, writeShare: number) => {
    const quiet = random() >= writeShare;
    // A quiet client's write becomes a read or a search.
    const roll = quiet ? 0.38 + random() * 0.62 : random();
    const kind: ClientKind =
      roll < 0.15
        ? 'create'
        : roll < 0.3
          ? 'update'
          : roll < 0.38
            ? 'delete'
            : roll < 0.7
              ? 'read'
              : roll < 0.85
                ? 'search'
                : 'page';
    return {
      kind,
      race: random() < raceShare,
      gateway: Math.floor(random() * 2),
      roll: random(),
      hot: random() < 0.5,
      readCount: 1 + Math.floor(random() * readMaxDocuments),
      pageSize: 100 - Math.floor(random() * pageSizes),
    };
  };

  const pacers = new Map(
    [...tenants, probeTenant].map((tenant) => [tenant, pacer(tenantOperationsPerSecond)]),
  );
  /** Waits for the tenant's next slot: its operations keep to `tenantOperationsPerSecond`. */
  const pace = async (tenant: string) => pacers.get(tenant)?.();

  async function call(gateway: number, token: string | undefined, query: string) {
    return postGraphQL<Record<string, unknown>>(cluster.gatewayUrls[gateway] ?? '', { query }, token).catch(
      (error: Error) => ({ status: 0, errors: [{ message: error.message }], data: undefined }),
    );
  }

  /** Sends one operation of a client, and records it with its times and response. */
  async function perform(
    client: Client,
    request: { kind: ClientKind; gateway: number; ids: string[]; word: string; pageSize: number },
  ): Promise<Operation> {
    const { kind, ids, word } = request;
    const query = {
      create: `mutation { createDocument(input: { title: "${word}", body: "${word}" }) { id version } }`,
      update: `mutation { updateDocument(id: "${ids[0]}", input: { author: "c${client.number}" }) { id version } }`,
      delete: `mutation { deleteDocument(id: "${ids[0]}") }`,
      read: `{ documents(ids: ${JSON.stringify(ids)}) { id version } }`,
      search: `{ search(query: "${word}", first: ${request.pageSize}) { total stale hits { document { id } } } }`,
      page: `{ search(query: "${word}", first: ${request.pageSize}) { hits { document { id version } } } }`,
    }[kind];
    await pace(client.tenant);
    const invokedAt = performance.now();
    const response = await call(request.gateway, tokens[client.tenant], query);
    const completedAt = performance.now();
    const operation: Operation = {
      client: client.number,
      tenant: client.tenant,
      gateway: request.gateway,
      kind,
      ids: [],
      word: kind === 'create' || kind === 'search' ? word : undefined,
      invokedAt,
      completedAt,
      ok: response.status === 200 && !response.errors && !!response.data,
      versions: new Map(),
      response,
    };
    recordResult(operation, response.data, ids);
    operations.push(operation);
    return operation;
  }

  /**
   * Every word of the tenant searched for through each gateway, at the page
   * size only browsing asks for: copies kept in process on both replicas,
   * which a lost generation counter that came back at a value it had would
   * serve again. All at once (at the tenant's pace), so that it is over
   * before the tenant's next write.
   */
  async function browse(self: Client, tenantWords: string[]) {
    await Promise.all(
      tenantWords.flatMap((word) =>
        [...cluster.gatewayUrls.keys()].map((gateway) =>
          perform(self, { kind: 'search', gateway, ids: [], word, pageSize: browsePageSize }),
        ),
      ),
    );
  }

  /**
   * A write of the client's latest document, then a read of it and, a moment
   * later, another write of it, both in flight at once; then reads of it
   * through either gateway until one starts past the invalidation bound after
   * the second write's answer. The first write leaves a fence, so the read
   * misses the document cache and reads the store: while the store answers
   * late, the read's answer can reach the cache after the second write's fence.
   */
  async function race(self: Client, id: string, random: () => number) {
    const gateway = Math.floor(random() * 2);
    const request = (kind: 'read' | 'update', on: number) =>
      perform(self, { kind, gateway: on, ids: [id], word: '', pageSize: 0 });
    if (!(await request('update', gateway)).ok) return;
    const reading = request('read', gateway);
    await sleep(writeAfterReadMs * (0.2 + random()));
    const [, second] = await Promise.all([reading, request('update', 1 - gateway)]);
    const readFrom = second.completedAt + options.replicaBoundMs;
    let last: Operation | undefined;
    while (!done() && !(last && last.invokedAt > readFrom))
      last = await request('read', Math.floor(random() * 2));
  }

  async function client(number: number, tenant: string, member: number) {
    const self = { number, tenant };
    const mine = known.get(tenant) ?? [];
    /** The documents this client created: its races are on its latest, which the others seldom write. */
    const own: string[] = [];
    const random = seededRandom(options.seed * 31 + number + 1);
    const writeShare = writeShareOf(tenant, member);
    const tenantWords = words.filter((w) => w.tenant === tenant).map((w) => w.word);
    let performed = 0;
    let lossesBrowsed = 0;
    // The quiet tenant's writer browses before the tenant's first write, then writes a document for each
    // word: browsing again after a loss of Redis's data then asks for pages that must now hold one.
    if (quiet(tenant) && writeShare > 0) {
      await browse(self, tenantWords);
      const creates = tenantWords.map((word) =>
        perform(self, { kind: 'create', gateway: 0, ids: [], word, pageSize: 0 }),
      );
      for (const [index, operation] of (await Promise.all(creates)).entries())
        if (operation.ok) mine.push({ id: operation.ids[0] ?? '', word: tenantWords[index] ?? '' });
      warmedUp.resolve();
    }
    while (!done()) {
      // After a loss of Redis's data, the quiet tenant's clients browse again, through the same gateways.
      if (quiet(tenant) && lossesBrowsed < dataLosses) {
        lossesBrowsed = dataLosses;
        await browse(self, tenantWords);
        continue;
      }
      const step = plan(random, writeShare);
      const racing = own.at(-1);
      if (writeShare === 1 && step.race && racing) {
        await race(self, racing, random);
        continue;
      }
      const targets = step.hot ? mine.slice(-hotDocuments) : mine;
      const target = targets[Math.floor(step.roll * targets.length)];
      // Each client searches before it writes, as users do. With no document yet, a client that writes
      // creates one, and one that only reads searches.
      const kind =
        performed < browseFirst
          ? 'search'
          : target || step.kind === 'create' || step.kind === 'search' || step.kind === 'page'
            ? step.kind
            : writeShare > 0
              ? 'create'
              : 'search';
      // A create names no document: a failed one must not count as a write of another.
      const ids =
        kind === 'read'
          ? pick(random, targets, step.readCount).map((document) => document.id)
          : kind === 'create' || !target
            ? []
            : [target.id];
      const word = tenantWords[Math.floor(step.roll * tenantWords.length)] ?? '';
      const request = { kind, gateway: step.gateway, ids, word, pageSize: step.pageSize };
      const operation = await perform(self, request);
      performed++;
      const created = kind === 'create' && operation.ok ? operation.ids[0] : undefined;
      if (!created) continue;
      mine.push({ id: created, word });
      own.push(created);
      // The quiet tenant's writer looks for what it wrote, through either gateway, until it shows: a
      // search cached between the write and its becoming searchable would hide it from every look after.
      if (quiet(tenant)) {
        const lookUntil = operation.completedAt + options.searchBoundMs + lookForWriteMarginMs;
        while (!done() && performance.now() < lookUntil) {
          const look = { ...request, kind: 'search' as const, gateway: Math.floor(random() * 2) };
          const found = await perform(self, look);
          performed++;
          if (found.versions.has(created)) break;
        }
      }
    }
  }

  /** Searches, then a mutation its read-only token may not run, reading the response generation around it. */
  async function probe() {
    const random = seededRandom(options.seed * 31 + 1000);
    const generationKey = responseGenerationKey(probeTenant);
    const generation = () => redisCommand(cluster.redis.port, ['GET', generationKey]).catch(() => undefined);
    while (!done()) {
      const gateway = Math.floor(random() * 2);
      await pace(probeTenant);
      await call(gateway, tokens[probeTenant], '{ search(query: "probe", first: 1) { total } }');
      await pace(probeTenant);
      const invokedAt = performance.now();
      const before = await generation();
      const response = await call(
        gateway,
        readOnlyToken,
        'mutation { createDocument(input: { title: "refused", body: "refused" }) { id version } }',
      );
      const after = await generation();
      operations.push({
        client: -1,
        tenant: probeTenant,
        gateway,
        kind: 'refused',
        ids: [],
        invokedAt,
        completedAt: performance.now(),
        ok: response.status === 200 && !response.errors && !!response.data,
        versions: new Map(),
        generations: [before, after],
        response,
      });
    }
  }

  async function injectFaults() {
    if (options.faultsPerMinute <= 0) return;
    const meanGapMs = 60_000 / options.faultsPerMinute;
    let round: Fault[] = [];
    const random = seededRandom(faultSeed(options.seed));
    const shuffled = (kinds: readonly Fault[]) => [...kinds].sort(() => random() - 0.5);
    // Bounded by the run: a run whose quiet writer never warms up still ends on time.
    await Promise.race([warmedUp.promise, sleep(timeLeft(), undefined, { ref: false })]);
    while (!done()) {
      await sleep(Math.min(meanGapMs * (0.5 + random()), timeLeft()));
      if (done()) return;
      // Each kind once per round, in a seeded order after the leading ones (popped from the end).
      if (round.length === 0)
        round = [...shuffled(restartFaults), 'documents-slow', ...shuffled(dataLossFaults)];
      const fault = round.pop() as Fault;
      const startedAt = performance.now();
      options.log?.(`fault ${fault}`);
      if (fault === 'redis-restart') {
        // Down until both gateways have seen it go, and over once they follow the new, empty one.
        await cluster.redis.kill();
        await gatewaysTracking(false);
        await cluster.redis.restart();
        await gatewaysTracking(true);
        dataLosses++;
      } else if (fault === 'redis-flushall') {
        await redisCommand(cluster.redis.port, ['FLUSHALL']);
        dataLosses++;
      } else if (fault === 'documents-slow') {
        cluster.setDocumentsFault({ fault: 'late', delayMs: slowStoreDelayMs });
        await sleep(Math.min(slowStoreForMs, timeLeft()));
        cluster.setDocumentsFault({ fault: 'none' });
      } else if (fault === 'indexer-kill') await cluster.restart('indexer', 'SIGKILL');
      else await cluster.restart(fault === 'search-restart' ? 'search' : 'documents', 'SIGTERM');
      faults.push({ fault, startedAt, endedAt: performance.now() });
    }
  }

  /** Waits, within `redisRecoveryBoundMs`, until every gateway's readiness reports client tracking on or off. */
  async function gatewaysTracking(on: boolean) {
    const until = performance.now() + redisRecoveryBoundMs;
    const tracking = (url: string) =>
      fetch(new URL('/health/ready', url))
        .then((response) => response.json())
        .then((body) => body?.dependencies?.redis?.detail?.clientTracking === true)
        .catch(() => false);
    for (const url of cluster.gatewayUrls)
      while (performance.now() < until && (await tracking(url)) !== on) await sleep(trackingPollMs);
  }

  await Promise.all([
    ...tenants.flatMap((tenant, t) =>
      Array.from({ length: options.clientsPerTenant }, (_, n) =>
        client(t * options.clientsPerTenant + n, tenant, n),
      ),
    ),
    probe(),
    injectFaults(),
  ]);
  return { operations, faults };
}

const redisCommandBoundMs = 5000;
const trackingPollMs = 50;

/**
 * Spaces the calls that await it `1000 / perSecond` ms apart: each waits for
 * the next free slot. Hand-written: a few lines, where p-throttle would be a
 * dependency for the checker alone.
 */
function pacer(perSecond: number): () => Promise<void> {
  const gapMs = 1000 / perSecond;
  let nextAt = 0;
  return async () => {
    const now = performance.now();
    const at = Math.max(now, nextAt);
    nextAt = at + gapMs;
    if (at > now) await sleep(at - now);
  };
}

/** INDEXER_LEASE_MS's default, which the cluster runs with. */
const indexerLeaseMs = 15_000;

/**
 * One command over a plain socket, answering a simple or bulk string (null
 * for none): the checker's own Redis client would be one more thing to close.
 */
async function redisCommand(port: number, args: string[]): Promise<string | null> {
  const request = `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
  const reply = await new Promise<string>((resolve, reject) => {
    let text = '';
    const socket = createConnection(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (chunk) => {
      text += chunk.toString();
      const [head = '', body] = text.split('\r\n');
      const complete = !head.startsWith('$') || head === '$-1' || body !== undefined;
      if (text.endsWith('\r\n') && complete) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.once('error', reject);
    // A Redis killed mid-command closes without an answer; one that hangs is given up on.
    socket.once('close', () => reject(new Error('redis: closed without an answer')));
    socket.setTimeout(redisCommandBoundMs, () => socket.destroy());
  });
  const [head = '', body = ''] = reply.split('\r\n');
  if (head.startsWith('-')) throw new Error(`redis: ${head.slice(1)}`);
  if (head === '$-1') return null;
  return head.startsWith('$') ? body : head.slice(1);
}

function recordResult(
  operation: Operation,
  data: Record<string, unknown> | null | undefined,
  /** The documents the request named: the one written, or the ones read. */
  named: string[],
) {
  const { kind, versions } = operation;
  const [target = ''] = named;
  if (kind === 'create' || kind === 'update') {
    const written = (data?.createDocument ?? data?.updateDocument) as
      | { id: string; version: number }
      | undefined;
    operation.ids = [written?.id ?? target].filter(Boolean);
    if (written) versions.set(written.id, written.version);
  } else if (kind === 'delete') {
    operation.ids = [target];
    versions.set(target, Number.POSITIVE_INFINITY);
  } else if (kind === 'read') {
    operation.ids = named;
    // One entry per id asked, in order, null for an absent one.
    const documents = (data?.documents ?? []) as ({ id: string; version: number } | null)[];
    if (operation.ok)
      for (const [index, id] of named.entries()) versions.set(id, documents[index]?.version ?? null);
  } else if (kind === 'page') {
    // A hit whose document is null names no id (deleted since it was indexed): only the others are reads.
    const search = data?.search as
      | { hits: { document: { id: string; version: number } | null }[] }
      | undefined;
    for (const hit of search?.hits ?? [])
      if (hit.document) versions.set(hit.document.id, hit.document.version);
    operation.ids = [...versions.keys()];
  } else {
    // Only the id, which the gateway takes from the search index itself: selecting more would resolve
    // each hit through the documents subgraph, which answers null for a deleted one and would hide it.
    const search = data?.search as
      | { total: number; stale: boolean; hits: { document: { id: string } | null }[] }
      | undefined;
    operation.stale = search?.stale;
    operation.complete = search !== undefined && search.total <= search.hits.length;
    for (const hit of search?.hits ?? []) if (hit.document) versions.set(hit.document.id, null);
    operation.ids = [...versions.keys()];
  }
}

/** The guarantees of docs/caching-and-resilience.md, checked against a history. */
export function checkHistory(
  operations: Operation[],
  faults: FaultEvent[],
  options: CheckOptions,
): Violation[] {
  const violations: Violation[] = [];
  const owner = new Map<string, string>();
  const writes = new Map<string, Operation[]>();
  for (const operation of operations) {
    if (operation.kind === 'create' && operation.ok) owner.set(operation.ids[0] ?? '', operation.tenant);
    if (['create', 'update', 'delete'].includes(operation.kind))
      for (const id of operation.ids) writes.set(id, [...(writes.get(id) ?? []), operation]);
  }
  const acknowledgedBefore = (id: string, time: number) =>
    (writes.get(id) ?? []).filter((write) => write.ok && write.completedAt < time);
  const deleteInvokedBefore = (id: string, time: number) =>
    (writes.get(id) ?? []).some((write) => write.kind === 'delete' && write.invokedAt < time);
  const latestVersion = (acknowledged: Operation[], id: string) =>
    Math.max(0, ...acknowledged.map((write) => write.versions.get(id) ?? 0));
  /**
   * The writes that may have produced what a read saw: the deletes begun before it, for a document
   * read as absent (none: not yet created); for a version, its acknowledged write or, if none
   * answered it, the unacknowledged creates and updates begun before the read.
   */
  const producersOf = (id: string, seen: number | null, read: Operation) => {
    const begun = (writes.get(id) ?? []).filter((write) => write.invokedAt < read.completedAt);
    if (seen === null) return begun.filter((write) => write.kind === 'delete');
    const acknowledged = begun.filter((write) => write.ok && write.versions.get(id) === seen);
    return acknowledged.length > 0
      ? acknowledged
      : begun.filter((write) => !write.ok && write.kind !== 'delete');
  };
  // Faults that stop processes or slow them delay the search bound (a restart's start-up starves the
  // indexer on a loaded machine); Redis faults must not. A killed indexer's successor applies nothing
  // until the partition leases it left expire.
  const outageBetween = (from: number, to: number) =>
    faults.some(
      (fault) =>
        !fault.fault.startsWith('redis') &&
        fault.startedAt < to &&
        fault.endedAt + (fault.fault === 'indexer-kill' ? indexerLeaseMs : 0) + options.searchBoundMs > from,
    );

  const redisFaultBetween = (from: number, to: number) =>
    faults.some((fault) => fault.fault.startsWith('redis') && fault.startedAt < to && fault.endedAt > from);

  const lastSeen = new Map<string, { version: number | null; operation: Operation }>();
  for (const operation of [...operations].sort((a, b) => a.completedAt - b.completedAt)) {
    if (operation.kind === 'refused') {
      // A refused mutation changes nothing: no data, and none of the tenant's cached responses.
      const [before, after] = operation.generations ?? [];
      if (operation.ok)
        violations.push({
          guarantee: 'refused-mutation-changes-nothing',
          detail: 'a mutation without the write scope was acknowledged',
          operations: [operation],
        });
      else if (
        typeof before === 'string' &&
        typeof after === 'string' &&
        before !== after &&
        !redisFaultBetween(operation.invokedAt, operation.completedAt)
      )
        violations.push({
          guarantee: 'refused-mutation-changes-nothing',
          detail: `${operation.tenant}'s response generation moved from ${before} to ${after}`,
          operations: [operation],
        });
      continue;
    }
    if (!operation.ok) continue;
    // Never another tenant's data.
    for (const id of operation.versions.keys()) {
      const tenant = owner.get(id);
      if (operation.kind !== 'delete' && tenant && tenant !== operation.tenant)
        violations.push({
          guarantee: 'tenancy',
          detail: `${operation.tenant} saw ${tenant}'s ${id}`,
          operations: [operation],
        });
    }
    if (operation.kind === 'read' || operation.kind === 'page') {
      for (const id of operation.ids) {
        const read = operation.versions.get(id) ?? null;
        // Read your writes (across replicas, after the invalidation bound).
        const acknowledged = acknowledgedBefore(id, operation.invokedAt - options.replicaBoundMs);
        const expected = latestVersion(acknowledged, id);
        const deleted = deleteInvokedBefore(id, operation.completedAt);
        if (
          expected === Number.POSITIVE_INFINITY ? read !== null : read === null ? !deleted : read < expected
        )
          violations.push({
            guarantee: 'read-your-writes',
            detail: `read ${id} as ${read} after version ${expected} was acknowledged`,
            operations: [...acknowledged.slice(-2), operation],
          });
        // Monotonic reads per client, once the write of what it saw has completed (plus the invalidation
        // bound): while that write is in flight, a layer it has reached and one it has not yet may disagree.
        const key = `${operation.client}/${id}`;
        const previous = lastSeen.get(key);
        const regressed =
          previous &&
          ((previous.version === null && read !== null) ||
            (previous.version !== null && read !== null && read < previous.version));
        const producers = previous ? producersOf(id, previous.version, previous.operation) : [];
        if (
          previous &&
          regressed &&
          producers.length > 0 &&
          producers.every((write) => write.completedAt < operation.invokedAt - options.replicaBoundMs)
        )
          violations.push({
            guarantee: 'monotonic-reads',
            detail: `client ${operation.client} read ${id} as ${read} after ${previous.version}`,
            // The writes of the document too, so the report shows which were in flight.
            operations: [...(writes.get(id) ?? []), previous.operation, operation],
          });
        lastSeen.set(key, { version: read, operation });
      }
    }
    if (operation.kind === 'search' && !operation.stale) {
      const settledAt = operation.invokedAt - options.searchBoundMs;
      for (const create of operations) {
        if (
          create.kind !== 'create' ||
          !create.ok ||
          create.tenant !== operation.tenant ||
          create.word !== operation.word
        )
          continue;
        const id = create.ids[0] ?? '';
        if (outageBetween(create.completedAt, operation.invokedAt)) continue;
        const found = operation.versions.has(id);
        const deletedBefore = acknowledgedBefore(id, settledAt).some((write) => write.kind === 'delete');
        if (
          operation.complete &&
          create.completedAt < settledAt &&
          !found &&
          !deleteInvokedBefore(id, operation.completedAt)
        )
          violations.push({
            guarantee: 'search-bound',
            detail: `search for ${operation.word} missed ${id}`,
            operations: [create, operation],
          });
        if (found && deletedBefore)
          violations.push({
            guarantee: 'deleted-never-returned',
            detail: `search returned deleted ${id}`,
            operations: [...(writes.get(id) ?? []), operation],
          });
      }
    }
  }
  return violations;
}

/** A violation as the report prints it: enough to replay (the seed) and to see why (operations and responses). */
export function describeViolation(seed: number, violation: Violation): string {
  const lines = [`VIOLATION (seed ${seed}) ${violation.guarantee}: ${violation.detail}`];
  for (const operation of violation.operations) {
    lines.push(
      `  client ${operation.client} ${operation.tenant} gateway ${operation.gateway} ${operation.kind} ${operation.ids.join(',')} ` +
        `[${operation.invokedAt.toFixed(0)}..${operation.completedAt.toFixed(0)} ms] ${JSON.stringify(operation.response)}`,
    );
  }
  return lines.join('\n');
}

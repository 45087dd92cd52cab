import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';
import { type Cluster, startCluster } from '../consistency/cluster.ts';
import { naturalText } from '../helpers/natural-text.ts';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Counts calls to a port, so a test can prove a refusal happened before any backend work. */
function counting<TPort extends object>(counter: { calls: number }) {
  return (port: TPort): TPort =>
    new Proxy(port, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          counter.calls += 1;
          return value.apply(target, args);
        };
      },
    });
}

const aliases = (count: number, field: (n: number) => string) =>
  Array.from({ length: count }, (_, n) => `a${n}: ${field(n)}`).join(' ');

describe('operation cost at the default limits', () => {
  let stack: TestStack;
  let token: string;
  const searches = { calls: 0 };

  beforeAll(async () => {
    stack = await startTestStack({ decorateIndex: counting<SearchIndex>(searches) });
    token = await stack.token('tenant-a');
  });
  afterAll(() => stack.stop());

  async function expectTooExpensive(query: string, variables?: Record<string, unknown>) {
    const before = searches.calls;
    const result = await stack.graphql(query, { token, variables });
    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'OPERATION_LIMIT_EXCEEDED' });
    expect(result.errors?.[0]?.message).toMatch(/Query Cost limit of 10000/);
    expect(searches.calls).toBe(before);
  }

  it('counts `first` sent in a variable: fifteen aliased full pages of bodies are refused', async () => {
    const fields = aliases(15, () => 'search(query: "the", first: $n) { hits { document { body } } }');
    await expectTooExpensive(`query ($n: Int) { ${fields} }`, { n: 100 });
    await expectTooExpensive(`query ($n: Int = 100) { ${fields} }`);
  });

  it('counts the ids given to `documents(ids:)`', async () => {
    const ids = Array.from({ length: 100 }, (_, n) => `doc-${n}`);
    const fields = aliases(
      15,
      () => 'documents(ids: $ids) { id title body tags author status version createdAt updatedAt }',
    );
    await expectTooExpensive(`query ($ids: [ID!]!) { ${fields} }`, { ids });
  });

  it('runs one full search page, with `first` in a variable', async () => {
    const result = await stack.graphql(
      'query ($n: Int) { search(query: "the", first: $n) { total hits { score document { id title body } } } }',
      { token, variables: { n: 100 } },
    );
    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
  });
});

/** Generous: the whole stack runs in this process, and its idle footprint is a fraction of this. */
const processPeakBoundBytes = 600 * 1024 * 1024;

describe('response bytes at the default caps', () => {
  let stack: TestStack;
  let token: string;
  const ids: string[] = [];
  const log: string[] = [];
  const gatewayCacheStatuses = () =>
    log
      .map((line) => JSON.parse(line) as { service?: string; msg?: string; cache?: string })
      .filter((line) => line.service === 'gateway' && line.msg === 'request')
      .map((line) => line.cache);
  const documents = (count: number, aliasCount: number) =>
    stack.graphql(`query ($ids: [ID!]!) { ${aliases(aliasCount, () => 'documents(ids: $ids) { body }')} }`, {
      token,
      variables: { ids: ids.slice(0, count) },
    });

  beforeAll(async () => {
    stack = await startTestStack({ logDestination: { write: (line: string) => log.push(line) } });
    token = await stack.token('tenant-a');
    // 10 KB each: large enough to pass the caps with a few aliases, small enough to build quickly.
    const body = 'All the words of an ordinary long document, repeated. '.repeat(190);
    for (let n = 0; n < 100; n += 1) {
      const created = await stack.store.create('tenant-a', {
        title: `Long ${n}`,
        body,
        tags: [],
        author: null,
        status: 'PUBLISHED',
      });
      ids.push(created.id);
    }
  });
  afterAll(() => stack.stop());

  it('refuses a response over MAX_RESPONSE_BYTES whole, with RESPONSE_TOO_LARGE, holding memory under the bound', async () => {
    // Fifteen aliases of 100 documents: cheap by the cost model, 15 MB in bytes; three at once.
    const results = await Promise.all([0, 1, 2].map(() => documents(100, 15)));
    for (const result of results) {
      expect(result.status).toBe(400);
      expect(result.data).toBeUndefined();
      expect(result.errors?.map((error) => error.extensions)).toEqual([{ code: 'RESPONSE_TOO_LARGE' }]);
    }
    expect(process.resourceUsage().maxRSS * 1024).toBeLessThan(processPeakBoundBytes);
    // Never cached: asked again, it runs again.
    log.length = 0;
    expect((await documents(100, 15)).status).toBe(400);
    expect(gatewayCacheStatuses()).not.toContain('hit');
  });

  it('sends a response under MAX_RESPONSE_BYTES, caching it only under RESPONSE_CACHE_MAX_ENTRY_BYTES', async () => {
    // 50 KB in one alias; 2 MB in two.
    for (const [count, aliasCount, second] of [
      [5, 1, 'hit'],
      [100, 2, 'miss'],
    ] as const) {
      log.length = 0;
      const first = await documents(count, aliasCount);
      expect(first.status).toBe(200);
      const again = await documents(count, aliasCount);
      expect(again.data).toEqual(first.data);
      expect(gatewayCacheStatuses()).toEqual(['miss', second]);
    }
  });
});

/** What a service process may hold at its peak under the attack below (docs/security.md). */
const servicePeakBoundBytes = 600 * 1024 * 1024;

/** The most memory a process has held since it started (Linux: VmHWM, in kB). */
async function peakRssBytes(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kilobytes) throw new Error(`no VmHWM for process ${pid}`);
  return Number(kilobytes) * 1024;
}

describe('memory under the oversized-response attack, in real processes', () => {
  let cluster: Cluster;
  let token: string;
  const ids: string[] = [];
  const attack = {
    documents: 100,
    bodyLength: 99_000,
    aliases: 15,
    inFlight: 3,
    rounds: 3,
  };
  /** Fifteen aliases of a hundred bodies of 100 KB: a 150 MB candidate, cheap by the cost model. */
  const oversized = `query ($ids: [ID!]!) { ${aliases(attack.aliases, () => 'documents(ids: $ids) { body }')} }`;

  beforeAll(async () => {
    // This proves memory and the refusal, not deadlines: on a loaded machine the default deadlines turned
    // the refusal into a timeout (a 200 with SUBGRAPH_UNAVAILABLE).
    cluster = await startCluster({
      env: { SUBGRAPH_TIMEOUT_MS: '30000', RESILIENCE_TIMEOUT_MS: '20000', EXECUTION_TIMEOUT_MS: '60000' },
    });
    token = await cluster.token('tenant-a');
    const create = 'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }';
    for (let n = 0; n < attack.documents; n++) {
      const input = { title: `Long ${n}`, body: naturalText(n + 1, attack.bodyLength) };
      const created = await postGraphQL<{ createDocument: { id: string } }>(
        cluster.gatewayUrls[0] as string,
        { query: create, variables: { input } },
        token,
      );
      expect(created.errors).toBeUndefined();
      ids.push(created.data?.createDocument.id as string);
    }
  }, 300_000);
  afterAll(() => cluster?.stop());

  it('refuses every 150 MB candidate with RESPONSE_TOO_LARGE while the gateway and documents processes stay under 600 MB', async () => {
    for (let round = 0; round < attack.rounds; round++) {
      const results = await Promise.all(
        Array.from({ length: attack.inFlight }, () =>
          postGraphQL(cluster.gatewayUrls[0] as string, { query: oversized, variables: { ids } }, token),
        ),
      );
      for (const result of results) {
        expect(result.errors?.map((error) => error.extensions)).toEqual([{ code: 'RESPONSE_TOO_LARGE' }]);
        expect(result.status).toBe(400);
      }
    }
    const peaks = {
      gateway: await peakRssBytes(cluster.process('gateway-a')?.child.pid),
      documents: await peakRssBytes(cluster.process('documents')?.child.pid),
    };
    const megabytes = JSON.stringify(
      Object.fromEntries(Object.entries(peaks).map(([name, bytes]) => [name, Math.round(bytes / 2 ** 20)])),
    );
    expect(peaks.gateway, megabytes).toBeLessThan(servicePeakBoundBytes);
    expect(peaks.documents, megabytes).toBeLessThan(servicePeakBoundBytes);
  }, 120_000);
});

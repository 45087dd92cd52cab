import { setTimeout as backoff } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../consistency/cluster.ts';
import { postGraphQL } from '../helpers/test-stack.ts';

/** Every service as its own process: starting them all on a busy 2-core machine is slow. */
const clusterStartBoundMs = 240_000;
/** The whole stream, the kill and the restart included. */
const streamBoundMs = 240_000;
/** How long a client keeps retrying one write: past a restart of the documents service on a busy machine. */
const retryWindowMs = 150_000;
/** A client's pause between retries, so that a down service is not hammered. */
const clientRetryBackoffMs = 100;

const writes = 60;
const clients = 6;
/** The kill comes once this many writes are acknowledged, while the other clients' writes are in flight. */
const killAfter = 20;

/** What a client retries, with the same key: a write that may have happened, or certainly did not. */
const retryable = new Set(['WRITE_OUTCOME_UNKNOWN', 'SUBGRAPH_UNAVAILABLE', 'DOCUMENTS_UNAVAILABLE']);

const createMutation = `mutation ($input: CreateDocumentInput!, $key: String) {
  createDocument(input: $input, idempotencyKey: $key) { id title }
}`;

describe('keyed writes across a kill -9 of the documents service', () => {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
  }, clusterStartBoundMs);
  afterAll(() => cluster?.stop());

  it(
    'applies every write exactly once when clients retry failed writes with the same key',
    async () => {
      if (!cluster) throw new Error('no cluster');
      const running = cluster;
      const tenant = 'tenant-kill';
      const token = await running.token(tenant, {
        scopes: ['documents:read', 'documents:write', 'tenant:admin'],
      });
      const [gateway = ''] = running.gatewayUrls;
      const acknowledged = new Map<number, string>();
      const failures = new Map<string, number>();
      const { promise: killPoint, resolve: reachKillPoint } = Promise.withResolvers<void>();

      async function write(n: number) {
        const variables = { input: { title: `Write ${n}`, body: 'keyed' }, key: `kill-${n}` };
        const givingUpAt = performance.now() + retryWindowMs;
        for (;;) {
          const result = await postGraphQL<{ createDocument: { id: string } }>(
            gateway,
            { query: createMutation, variables },
            token,
          );
          const created = result.data?.createDocument;
          if (created) {
            acknowledged.set(n, created.id);
            if (acknowledged.size === killAfter) reachKillPoint();
            return;
          }
          const code = String(result.errors?.[0]?.extensions?.code);
          if (!retryable.has(code) || performance.now() > givingUpAt)
            throw new Error(`write ${n} failed: ${JSON.stringify(result)}`);
          failures.set(code, (failures.get(code) ?? 0) + 1);
          await backoff(clientRetryBackoffMs);
        }
      }

      const pending = Array.from({ length: writes }, (_, n) => n);
      const stream = Promise.all(
        Array.from({ length: clients }, async () => {
          for (let n = pending.shift(); n !== undefined; n = pending.shift()) await write(n);
        }),
      );
      await Promise.race([killPoint, stream]);
      await running.restart('documents', 'SIGKILL');
      await stream;

      // The outage was seen: some writes failed and were retried.
      expect([...failures.values()].reduce((sum, count) => sum + count, 0)).toBeGreaterThan(0);
      // No loss: every write acknowledged, each with its own document.
      expect(acknowledged.size).toBe(writes);
      const ids = [...acknowledged.values()];
      expect(new Set(ids).size).toBe(writes);
      const read = await postGraphQL<{ documents: ({ id: string; title: string } | null)[] }>(
        gateway,
        { query: 'query ($ids: [ID!]!) { documents(ids: $ids) { id title } }', variables: { ids } },
        token,
      );
      expect(read.data?.documents.map((document) => document?.title)).toEqual(
        [...acknowledged.keys()].map((n) => `Write ${n}`),
      );
      // No duplicate: the tenant holds exactly one document per write.
      const usage = await postGraphQL<{ usage: { documents: number } }>(
        gateway,
        { query: '{ usage { documents } }' },
        token,
      );
      expect(usage.data?.usage.documents).toBe(writes);
    },
    streamBoundMs,
  );
});

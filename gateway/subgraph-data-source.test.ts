import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../server/auth/jwt-verifier.ts';
import { noOperationalEvents } from '../server/observability/events.ts';
import { createResilience } from '../server/resilience/policy.ts';
import { createSubgraphAgent, SubgraphDataSource } from './subgraph-data-source.ts';

const principal = (tenantId: string, token: string): Principal => ({
  tenantId,
  subject: undefined,
  scopes: new Set(['documents:read', 'documents:write']),
  clientType: 'first-party',
  clientIds: [],
  tier: 'standard',
  token,
  expiresAt: Date.now() + 60_000,
});

describe('SubgraphDataSource', () => {
  let server: Server;
  let received: { authorization: string | undefined; body: string }[];
  /** Per request received: whether, and when, its connection closed before the answer was sent. */
  let abandoned: { closed: boolean; promise: Promise<void> }[];
  let answerAfterMs = 20;
  /** The subgraph reads the whole request, then its connection is lost before it answers. */
  let dropAfterReading = false;
  let port = 0;
  const agent = createSubgraphAgent(8);
  let source: SubgraphDataSource;

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      const closed = Promise.withResolvers<void>();
      const entry = { closed: false, promise: closed.promise };
      abandoned.push(entry);
      response.once('close', () => {
        if (response.writableFinished) return;
        entry.closed = true;
        closed.resolve();
      });
      request.on('end', () => {
        received.push({
          authorization: request.headers.authorization,
          body,
        });
        if (request.url === '/fails') {
          response.statusCode = 500;
          response.end('{}');
          return;
        }
        if (dropAfterReading) {
          request.socket.destroy();
          return;
        }
        setTimeout(() => {
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify({ data: { echo: JSON.parse(body).variables ?? null } }));
        }, answerAfterMs);
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    ({ port } = server.address() as AddressInfo);
    source = new SubgraphDataSource({
      name: 'search',
      url: `http://127.0.0.1:${port}/graphql`,
      agent,
      // Generous, so a loaded machine's slow answers are not taken for a missed deadline.
      timeoutMs: 3000,
      policy: createResilience({ timeoutMs: 3000, failureThreshold: 100 }).policy('subgraph:search'),
    });
  });
  beforeEach(() => {
    received = [];
    abandoned = [];
    answerAfterMs = 20;
    dropAfterReading = false;
  });
  afterAll(async () => {
    await agent.close();
    server.close();
  });

  const call = (query: string, who: Principal, variables: Record<string, unknown> = { q: 'a' }) =>
    source.process({
      kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
      request: { query, variables },
      context: { principal: who },
      incomingRequestContext: {} as never,
    });

  it('forwards the verified token and answers with the subgraph body', async () => {
    const result = await call('query { echo }', principal('t1', 'token-1'));
    expect(result).toEqual({ data: { echo: { q: 'a' } } });
    expect(received).toHaveLength(1);
    expect(received[0]?.authorization).toBe('Bearer token-1');
    expect(JSON.parse(received[0]?.body ?? '')).toMatchObject({
      query: 'query { echo }',
      variables: { q: 'a' },
    });
  });

  it('sends identical queries in flight at once only once, each caller getting its own copy', async () => {
    const who = principal('t1', 'token-1');
    const results = await Promise.all(Array.from({ length: 5 }, () => call('query { echo }', who)));
    expect(received).toHaveLength(1);
    expect(new Set(results).size).toBe(5);
    expect(results[0]).toEqual(results[4]);
    // Settled calls are not remembered: the next one goes to the subgraph again.
    await call('query { echo }', who);
    expect(received).toHaveLength(2);
  });

  it('never merges across tokens, tenants or variables', async () => {
    await Promise.all([
      call('query { echo }', principal('t1', 'token-1')),
      call('query { echo }', principal('t2', 'token-2')),
      call('query { echo }', principal('t1', 'token-1b')),
      call('query { echo }', principal('t1', 'token-1'), { q: 'b' }),
    ]);
    expect(received).toHaveLength(4);
  });

  it('never merges mutations', async () => {
    const who = principal('t1', 'token-1');
    await Promise.all([call('mutation { write }', who), call('mutation { write }', who)]);
    expect(received).toHaveLength(2);
  });

  it('stops a shared query once every client waiting for it has gone, and does not retry it', async () => {
    answerAfterMs = 60_000;
    const { port } = server.address() as AddressInfo;
    // Deadlines far past the test: only the clients leaving can end the call.
    const patient = new SubgraphDataSource({
      name: 'search',
      url: `http://127.0.0.1:${port}/graphql`,
      agent,
      timeoutMs: 60_000,
      policy: createResilience({ timeoutMs: 60_000, failureThreshold: 100 }).policy('subgraph:search'),
    });
    const who = principal('t1', 'token-1');
    const [first, second] = [new AbortController(), new AbortController()];
    const calls = [first, second].map((client) =>
      patient.process({
        kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
        request: { query: 'query { slow }', variables: {} },
        context: { principal: who, clientGone: client.signal },
        incomingRequestContext: {} as never,
      }),
    );
    await expect.poll(() => received.length).toBe(1);
    first.abort();
    // A round trip to the subgraph after the first client left: the shared call is still open then.
    answerAfterMs = 0;
    await call('query { other }', who);
    expect(abandoned[0]?.closed).toBe(false);
    second.abort();
    // Bounded only so that a regression fails rather than hangs: the close follows the abort at once.
    await expect.poll(() => abandoned[0]?.closed, { timeout: 10_000 }).toBe(true);
    for (const result of await Promise.all(calls))
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'SUBGRAPH_UNAVAILABLE' });
    expect(received.map((sent) => JSON.parse(sent.body).query)).toEqual([
      'query { slow }',
      'query { other }',
    ]);
  });

  it('retries a query only when its connection was refused, as nothing reached a subgraph then', async () => {
    const { port } = server.address() as AddressInfo;
    let retries = 0;
    const events = { ...noOperationalEvents, retried: () => retries++ };
    const sourceAt = (url: string) =>
      new SubgraphDataSource({
        name: 'search',
        url,
        agent,
        timeoutMs: 3000,
        policy: createResilience({
          readAttempts: 3,
          retryInitialDelayMs: 1,
          failureThreshold: 100,
          events,
        }).policy('subgraph:search'),
      });
    const ask = (target: SubgraphDataSource) =>
      target.process({
        kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
        request: { query: 'query { echo }', variables: {} },
        context: { principal: principal('t1', 'token-1') },
        incomingRequestContext: {} as never,
      });
    // Nothing listens on a port just freed.
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const refused = await ask(sourceAt(`http://127.0.0.1:${closedPort}/graphql`));
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'SUBGRAPH_UNAVAILABLE' });
    expect(retries).toBe(2);
    retries = 0;
    const failing = await ask(sourceAt(`http://127.0.0.1:${port}/fails`));
    expect(failing.errors?.[0]?.extensions).toEqual({ code: 'SUBGRAPH_UNAVAILABLE' });
    expect(retries).toBe(0);
    expect(received).toHaveLength(1);
  });

  it('answers SUBGRAPH_UNAVAILABLE when the subgraph misses the deadline', async () => {
    answerAfterMs = 30_000;
    const started = performance.now();
    const result = await call('query { slow }', principal('t1', 'token-1'));
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'SUBGRAPH_UNAVAILABLE' });
    // Well before the subgraph's answer at 30 s: the deadline (3 s) ended the wait, with room for a busy machine.
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  describe('a mutation without an answer', () => {
    /** A source with its own breaker, opening at the first failure, and a short deadline: the subgraph here never answers in time. */
    const sourceFor = (url: string) =>
      new SubgraphDataSource({
        name: 'documents',
        url,
        agent,
        timeoutMs: 300,
        policy: createResilience({ timeoutMs: 300, failureThreshold: 1 }).policy('subgraph:documents'),
      });
    const mutate = (target: SubgraphDataSource) =>
      target.process({
        kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
        request: { query: 'mutation { write }', variables: {} },
        context: { principal: principal('t1', 'token-1') },
        incomingRequestContext: {} as never,
      });
    const code = (result: Awaited<ReturnType<typeof mutate>>) => result.errors?.[0]?.extensions?.code;

    it('is WRITE_OUTCOME_UNKNOWN when the subgraph got it and the deadline passed, and is sent once', async () => {
      answerAfterMs = 30_000;
      const target = sourceFor(`http://127.0.0.1:${port}/graphql`);
      expect(code(await mutate(target))).toBe('WRITE_OUTCOME_UNKNOWN');
      expect(received).toHaveLength(1);
      // Its breaker is open now: the next mutation is refused before it is sent.
      expect(code(await mutate(target))).toBe('SUBGRAPH_UNAVAILABLE');
      expect(received).toHaveLength(1);
    });

    it('is WRITE_OUTCOME_UNKNOWN when the connection is lost after the subgraph read it', async () => {
      dropAfterReading = true;
      expect(code(await mutate(sourceFor(`http://127.0.0.1:${port}/graphql`)))).toBe('WRITE_OUTCOME_UNKNOWN');
      expect(received).toHaveLength(1);
    });

    it('stays SUBGRAPH_UNAVAILABLE when the connection was refused, so it never left', async () => {
      const closed = createServer();
      await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
      const closedPort = (closed.address() as AddressInfo).port;
      await new Promise((done) => closed.close(done));
      expect(code(await mutate(sourceFor(`http://127.0.0.1:${closedPort}/graphql`)))).toBe(
        'SUBGRAPH_UNAVAILABLE',
      );
    });
  });
});

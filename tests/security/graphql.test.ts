import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';
import { expectStillHealthy } from '../helpers/health.ts';
import { startTestIdentityProvider, type TestIdentityProvider } from '../helpers/identity-provider.ts';
import { type GraphQLResponse, postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** Counts search calls, so a test can prove a rejection happened before any backend work. */
function countingIndex(counter: { calls: number }) {
  return (index: SearchIndex): SearchIndex =>
    new Proxy(index, {
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

const nested = (depth: number): string => (depth === 0 ? 'id' : `a${depth} { ${nested(depth - 1)} }`);

async function raw(url: string, init: RequestInit): Promise<GraphQLResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let payload: Omit<GraphQLResponse, 'status'> = {};
  try {
    payload = JSON.parse(text) as Omit<GraphQLResponse, 'status'>;
  } catch {
    payload = { errors: [{ message: text }] };
  }
  return { status: response.status, ...payload };
}

describe('attack suite: GraphQL (development messages, configured limits)', () => {
  let stack: TestStack;
  let token: string;
  const searches = { calls: 0 };

  beforeAll(async () => {
    stack = await startTestStack({
      env: { LIMIT_MAX_COST: '2000', MAX_REQUEST_BODY_BYTES: String(64 * 1024) },
      decorateIndex: countingIndex(searches),
    });
    token = await stack.token('tenant-a');
  });
  afterAll(() => stack.stop());

  async function expectLimit(query: string, pattern?: RegExp) {
    const result = await stack.graphql(query, { token });
    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'OPERATION_LIMIT_EXCEEDED' });
    if (pattern) expect(result.errors?.[0]?.message).toMatch(pattern);
    return result;
  }

  it('refuses deep nesting', async () => {
    await expectLimit(`{ ${nested(20)} }`, /depth limit of 8/);
  });

  it('refuses depth hidden in fragments', async () => {
    const fragments = Array.from(
      { length: 12 },
      (_, level) => `fragment F${level} on Query { a${level} { ${level < 11 ? `...F${level + 1}` : 'id'} } }`,
    );
    await expectLimit(`query { ...F0 } ${fragments.join(' ')}`, /depth limit/);
  });

  it('refuses fragment cycles without hanging', async () => {
    const result = await stack.graphql(
      'query { ...A } fragment A on Query { suggest(prefix: "a") ...B } fragment B on Query { ...A }',
      { token },
    );
    expect(result.status).toBe(400);
    expect(['GRAPHQL_VALIDATION_FAILED', 'OPERATION_LIMIT_EXCEEDED']).toContain(
      result.errors?.[0]?.extensions?.code,
    );
  });

  it('refuses alias floods', async () => {
    const aliases = Array.from({ length: 50 }, (_, n) => `s${n}: suggest(prefix: "a")`).join(' ');
    await expectLimit(`{ ${aliases} }`, /Aliases limit of 15/);
  });

  it('refuses duplicated fields through the cost limit', async () => {
    await expectLimit(`{ search(query: "a") { ${'total '.repeat(400)} } }`, /Query Cost limit of 2000/);
  });

  it('refuses directive floods', async () => {
    await expectLimit(
      `{ suggest(prefix: "a") ${'@include(if: true) '.repeat(50)} }`,
      /Directives limit of 20/,
    );
  });

  it('refuses token floods before parsing', async () => {
    await expectLimit(`{ suggest(prefix: "a") ${'__typename '.repeat(1500)} }`, /Token limit of 1000/);
  });

  it('refuses oversized bodies with 413 (MAX_REQUEST_BODY_BYTES)', async () => {
    const result = await raw(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ suggest(prefix: "a") }', variables: { pad: 'x'.repeat(100 * 1024) } }),
    });
    expect(result.status).toBe(413);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_REQUEST' });
  });

  it('refuses an oversized chunked body with 413, counting bytes as they arrive', async () => {
    // No content-length: only the count of bytes read can catch it.
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }","pad":"'));
        sent += 1;
        if (sent > 8) return controller.close();
        controller.enqueue(chunk);
      },
    });
    const result = await raw(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(result.status).toBe(413);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_REQUEST' });
  });

  it('refuses a huge first at the gateway, without calling the search backend', async () => {
    const before = searches.calls;
    const literal = await stack.graphql('{ search(query: "a", first: 1000000) { total } }', { token });
    expect(literal.status).toBe(400);
    expect(literal.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    const variable = await stack.graphql('query ($n: Int) { search(query: "a", first: $n) { total } }', {
      token,
      variables: { n: 5000 },
    });
    expect(variable.status).toBe(400);
    expect(variable.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    const byDefault = await stack.graphql(
      'query ($n: Int = 5000) { search(query: "a", first: $n) { total } }',
      {
        token,
      },
    );
    expect(byDefault.status).toBe(400);
    expect(byDefault.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    const overflow = await stack.graphql('{ search(query: "a", first: 99999999999) { total } }', { token });
    expect(overflow.status).toBe(400);
    expect(['GRAPHQL_VALIDATION_FAILED', 'OPERATION_LIMIT_EXCEEDED']).toContain(
      overflow.errors?.[0]?.extensions?.code,
    );
    expect(searches.calls).toBe(before);
  });

  it('answers a subscription with 400, not a server error', async () => {
    const result = await stack.graphql('subscription { __typename }', { token });
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
  });

  it('answers variables nested 5,000 deep with 400, not a server error', async () => {
    // Built as text: JSON.stringify itself overflows the stack on such a value.
    const deep = `${'{"tags":['.repeat(5000)}"leaf"${']}'.repeat(5000)}`;
    for (const [query, variables] of [
      ['query ($f: SearchFilter) { search(query: "a", filter: $f) { total } }', `{"f":${deep}}`],
      ['query ($p: String!) { suggest(prefix: $p) }', `{"p":"a","extra":${deep}}`],
    ]) {
      const result = await raw(stack.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: `{"query":"${query}","variables":${variables}}`,
      });
      expect(result.status).toBe(400);
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    }
  });

  it('answers a malformed DateTime with BAD_USER_INPUT, as a variable or inline', async () => {
    // The gateway passes a custom scalar through unchecked; the search subgraph refuses it with a 400.
    const variable = await stack.graphql(
      'query ($f: SearchFilter) { search(query: "a", filter: $f) { total } }',
      {
        token,
        variables: { f: { updatedAfter: 'yesterday' } },
      },
    );
    const inline = await stack.graphql(
      '{ search(query: "a", filter: { updatedAfter: "yesterday" }) { total } }',
      {
        token,
      },
    );
    // A day that does not exist, and a year that would be 10000 in UTC (stored dates compare as text).
    const impossible = await Promise.all(
      ['2024-02-30T00:00:00Z', '9999-12-31T23:00:00-05:00'].map((updatedBefore) =>
        stack.graphql('query ($f: SearchFilter) { search(query: "a", filter: $f) { total } }', {
          token,
          variables: { f: { updatedBefore } },
        }),
      ),
    );
    for (const result of [variable, inline, ...impossible]) {
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toMatch(/ISO-8601/);
    }
  });

  it('answers a request target that is not a URL with 400, not a server error', async () => {
    const { port } = new URL(stack.gatewayUrl);
    for (const target of ['http://localhost:99999/graphql', 'http://[/graphql']) {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () =>
          socket.end(`GET ${target} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`),
        );
        let received = '';
        socket.on('data', (chunk) => {
          received += chunk.toString();
        });
        socket.on('end', () => resolve(received));
        socket.on('error', reject);
      });
      expect(reply.split('\r\n', 1)[0], target).toBe('HTTP/1.1 400 Bad Request');
      expect(reply, target).toContain('"code":"BAD_REQUEST"');
    }
  });

  it('answers a document that does not say which operation to run with OPERATION_RESOLUTION_FAILURE', async () => {
    const unknown = await postGraphQL(
      stack.gatewayUrl,
      { query: 'query A { suggest(prefix: "k") }', operationName: 'B' },
      token,
    );
    const unnamed = await postGraphQL(
      stack.gatewayUrl,
      { query: 'query A { suggest(prefix: "k") } query B { suggest(prefix: "l") }' },
      token,
    );
    for (const result of [unknown, unnamed]) {
      expect(result.status).toBe(400);
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'OPERATION_RESOLUTION_FAILURE' });
    }
    expect(unknown.errors?.[0]?.message).toBe('Unknown operation named "B".');
  });

  it('refuses array batches', async () => {
    const result = await raw(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: '{ suggest(prefix: "a") }' }, { query: '{ suggest(prefix: "b") }' }]),
    });
    expect(result.status).toBe(400);
    expect(Array.isArray(result)).toBe(false);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
  });

  it('refuses text/plain POSTs (CSRF prevention)', async () => {
    const result = await raw(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: 'mutation { createDocument(input: { title: "csrf", body: "x" }) { id } }',
      }),
    });
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect(result.errors?.[0]?.message).toMatch(/Cross-Site Request Forgery/);
  });

  it('refuses mutations over GET, with or without the preflight header', async () => {
    const url = `${stack.gatewayUrl}?query=${encodeURIComponent('mutation { deleteDocument(id: "x") }')}`;
    const simple = await raw(url, { headers: { authorization: `Bearer ${token}` } });
    expect(simple.status).toBe(400);
    expect(simple.errors?.[0]?.message).toMatch(/Cross-Site Request Forgery/);
    const preflighted = await raw(url, {
      headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    });
    expect(preflighted.status).toBe(405);
    expect(preflighted.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
  });

  it('is still healthy afterwards', async () => {
    await expectStillHealthy(stack);
  });
});

describe('attack suite: GraphQL in production', () => {
  let idp: TestIdentityProvider;
  let stack: TestStack;
  let token: string;

  beforeAll(async () => {
    idp = await startTestIdentityProvider();
    stack = await startTestStack({
      env: {
        NODE_ENV: 'production',
        JWT_JWKS_URL: idp.url,
        JWT_JWKS_FILE: undefined,
        CURSOR_SECRET: 'a-production-cursor-secret-of-32-chars!',
      },
    });
    await idp.serveFile(stack.devKey.jwksPath);
    token = await stack.token('tenant-a');
  });
  afterAll(async () => {
    await stack.stop();
    await idp.close();
  });

  it('turns introspection off', async () => {
    const result = await stack.graphql('{ __schema { types { name } } }', { token });
    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(result)).not.toContain('Document');
  });

  it('hides field suggestions', async () => {
    const result = await stack.graphql('{ serch(query: "a") { total } }', { token });
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(result)).not.toMatch(/Did you mean|search/);
  });

  it('hides suggestions from variable coercion errors too', async () => {
    const enumValue = await stack.graphql(
      'query ($sort: SearchSort) { search(query: "a", sort: $sort) { total } }',
      { token, variables: { sort: 'RELEVANC' } },
    );
    const inputField = await stack.graphql(
      'query ($f: SearchFilter) { search(query: "a", filter: $f) { total } }',
      { token, variables: { f: { tagz: ['a'] } } },
    );
    for (const result of [enumValue, inputField]) {
      expect(result.status).toBe(400);
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(result)).not.toMatch(/Did you mean|RELEVANCE|"tags"/);
    }
  });

  it('refuses over-limit operations without revealing the numbers', async () => {
    const floods = [
      `{ ${nested(20)} }`,
      `{ ${Array.from({ length: 50 }, (_, n) => `s${n}: suggest(prefix: "a")`).join(' ')} }`,
      `{ suggest(prefix: "a") ${'@include(if: true) '.repeat(50)} }`,
      `{ suggest(prefix: "a") ${'__typename '.repeat(1500)} }`,
    ];
    for (const query of floods) {
      const result = await stack.graphql(query, { token });
      expect(result.status).toBe(400);
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'OPERATION_LIMIT_EXCEEDED' });
      expect(result.errors?.[0]?.message).not.toMatch(/\d/);
    }
  });

  it('shows no stack traces or internal messages', async () => {
    const result = await stack.graphql('{ search(query: "a", after: "forged-cursor") { total } }', { token });
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(JSON.stringify(result)).not.toMatch(/stacktrace|at .*\.ts|Error:/);
  });

  it('is still healthy afterwards', async () => {
    await expectStillHealthy(stack);
  });
});

describe('execution deadline (EXECUTION_TIMEOUT_MS)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    const slowSearch = (index: SearchIndex): SearchIndex =>
      new Proxy(index, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          if (property !== 'search') return value.bind(target);
          return async (...args: unknown[]) => {
            await new Promise((resolve) => setTimeout(resolve, 3000));
            return value.apply(target, args);
          };
        },
      });
    stack = await startTestStack({ env: { EXECUTION_TIMEOUT_MS: '300' }, decorateIndex: slowSearch });
  });
  afterAll(() => stack.stop());

  it('answers GATEWAY_TIMEOUT (504) when an operation runs past the deadline', async () => {
    const started = Date.now();
    const result = await postGraphQL(
      stack.gatewayUrl,
      { query: '{ search(query: "slow") { total } }' },
      await stack.token('tenant-a'),
    );
    expect(result.status).toBe(504);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'GATEWAY_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2500);
    await expectStillHealthy(stack);
  });
});

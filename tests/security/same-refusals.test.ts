import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../server/auth/dev-keys.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/**
 * A response-cache hit is answered in front of Apollo Server, a miss by
 * Apollo. Whatever a request is, valid, hostile or malformed, a client must
 * not be able to tell which path met it: each kind below is sent once with
 * its query cold and once with the same query cached for the same tenant,
 * and the two answers must have the same status, codes, headers and body.
 */

const tenant = 'tenant-same-refusals';
/** Its tier allows two requests, ever: the priming pair. */
const limitedTenant = 'tenant-same-refusals-limited';

interface Sent {
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  /** Raw body; a string is sent as it is. */
  body?: unknown;
  /** Appended to /graphql for a GET. */
  search?: string;
}

interface Answer {
  status: number;
  contentType: string | null;
  retryAfter: boolean;
  body: unknown;
}

type Tokens = Record<
  | 'valid'
  | 'readOnly'
  | 'writeOnly'
  | 'noScope'
  | 'partner'
  | 'expired'
  | 'notYetValid'
  | 'wrongAudience'
  | 'wrongIssuer'
  | 'unknownKey'
  | 'noTenant'
  | 'numericTenant'
  | 'unsigned'
  | 'limited',
  string
>;

/** One kind of request, built around a query text the case owns (so its cold run is really cold). */
interface Case {
  name: string;
  /** The request under test, for this query text. */
  request(query: string, tokens: Tokens): Sent;
  /** The tenant whose cache the warm run primes; default `tenant`. */
  tenant?: string;
}

const json = (token: string | undefined, body: unknown, headers: Record<string, string> = {}): Sent => ({
  headers: {
    'content-type': 'application/json',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    ...headers,
  },
  body,
});

const searchPage =
  'query SearchPage($q: String!, $first: Int) { search(query: $q, first: $first) { total } }';

/** JSON text of an object nested `depth` levels deep, written out directly: building it would overflow the stack. */
const deeplyNested = (depth: number) => `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;

const cases: Case[] = [
  // Valid requests: the same answer from either path.
  { name: 'a valid query', request: (q, t) => json(t.valid, { query: q }) },
  { name: 'a read-only token', request: (q, t) => json(t.readOnly, { query: q }) },
  {
    name: 'a valid query with charset in the content type',
    request: (q, t) => json(t.valid, { query: q }, { 'content-type': 'application/json; charset=utf-8' }),
  },
  {
    name: 'accept: application/graphql-response+json',
    request: (q, t) => json(t.valid, { query: q }, { accept: 'application/graphql-response+json' }),
  },
  { name: 'accept: */*', request: (q, t) => json(t.valid, { query: q }, { accept: '*/*' }) },
  {
    name: 'an operation name that matches',
    request: (q, t) => json(t.valid, { query: q, operationName: 'Case' }),
  },
  { name: 'variables null', request: (q, t) => json(t.valid, { query: q, variables: null }) },
  { name: 'extensions {}', request: (q, t) => json(t.valid, { query: q, extensions: {} }) },
  { name: 'an unknown top-level field', request: (q, t) => json(t.valid, { query: q, something: 1 }) },
  // Tokens.
  { name: 'no authorization header', request: (q) => json(undefined, { query: q }) },
  {
    name: 'an empty bearer token',
    request: (q) => json(undefined, { query: q }, { authorization: 'Bearer ' }),
  },
  {
    name: 'a Basic authorization',
    request: (q) => json(undefined, { query: q }, { authorization: 'Basic dXNlcjpwYXNz' }),
  },
  { name: 'a token that is not a JWT', request: (q) => json('abc.def.ghi', { query: q }) },
  { name: 'an expired token', request: (q, t) => json(t.expired, { query: q }) },
  { name: 'a token not valid yet', request: (q, t) => json(t.notYetValid, { query: q }) },
  { name: 'a token for another audience', request: (q, t) => json(t.wrongAudience, { query: q }) },
  { name: 'a token from another issuer', request: (q, t) => json(t.wrongIssuer, { query: q }) },
  { name: 'a token signed by an unknown key', request: (q, t) => json(t.unknownKey, { query: q }) },
  { name: 'an unsigned token (alg none)', request: (q, t) => json(t.unsigned, { query: q }) },
  { name: 'a token without a tenant', request: (q, t) => json(t.noTenant, { query: q }) },
  { name: 'a token whose tenant is not a string', request: (q, t) => json(t.numericTenant, { query: q }) },
  { name: 'a write-only token', request: (q, t) => json(t.writeOnly, { query: q }) },
  { name: 'a token without scopes', request: (q, t) => json(t.noScope, { query: q }) },
  // Partners: persisted operations only.
  { name: 'a partner sending text', request: (q, t) => json(t.partner, { query: q }) },
  {
    name: 'a partner sending text with its hash',
    request: (q, t) =>
      json(t.partner, {
        query: q,
        extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } },
      }),
  },
  // The persisted-query extension.
  {
    name: 'a persistedQuery extension without a hash',
    request: (q, t) => json(t.valid, { query: q, extensions: { persistedQuery: { version: 1 } } }),
  },
  {
    name: 'a null hash',
    request: (q, t) =>
      json(t.valid, { query: q, extensions: { persistedQuery: { version: 1, sha256Hash: null } } }),
  },
  {
    name: 'a numeric hash',
    request: (q, t) =>
      json(t.valid, { query: q, extensions: { persistedQuery: { version: 1, sha256Hash: 7 } } }),
  },
  {
    name: 'persisted-query version 2',
    request: (q, t) =>
      json(t.valid, { query: q, extensions: { persistedQuery: { version: 2, sha256Hash: '0'.repeat(64) } } }),
  },
  {
    name: 'a hash that does not match the text',
    request: (q, t) =>
      json(t.valid, { query: q, extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }),
  },
  {
    name: 'persistedQuery null',
    request: (q, t) => json(t.valid, { query: q, extensions: { persistedQuery: null } }),
  },
  // Malformed bodies.
  { name: 'a numeric query', request: (_q, t) => json(t.valid, { query: 42 }) },
  { name: 'an empty query', request: (_q, t) => json(t.valid, { query: '' }) },
  { name: 'no query at all', request: (_q, t) => json(t.valid, { variables: {} }) },
  { name: 'a JSON array body (a batch)', request: (q, t) => json(t.valid, [{ query: q }]) },
  { name: 'a JSON string body', request: (q, t) => json(t.valid, JSON.stringify(JSON.stringify(q))) },
  { name: 'invalid JSON', request: (_q, t) => json(t.valid, '{"query": ') },
  { name: 'variables as an array', request: (q, t) => json(t.valid, { query: q, variables: [1] }) },
  { name: 'variables as a string', request: (q, t) => json(t.valid, { query: q, variables: '{}' }) },
  { name: 'extensions as an array', request: (q, t) => json(t.valid, { query: q, extensions: [] }) },
  { name: 'a numeric operation name', request: (q, t) => json(t.valid, { query: q, operationName: 3 }) },
  {
    name: 'an operation name not in the document',
    request: (q, t) => json(t.valid, { query: q, operationName: 'Missing' }),
  },
  {
    name: 'a body over the size limit',
    request: (q, t) => json(t.valid, { query: q, variables: { padding: 'x'.repeat(1024 * 1024 + 1) } }),
  },
  // Transport.
  {
    name: 'content-type text/plain',
    request: (q, t) => json(t.valid, JSON.stringify({ query: q }), { 'content-type': 'text/plain' }),
  },
  {
    name: 'a content type that only mentions JSON',
    request: (q, t) =>
      json(t.valid, JSON.stringify({ query: q }), { 'content-type': 'text/plain; x=application/json' }),
  },
  { name: 'accept: text/html only', request: (q, t) => json(t.valid, { query: q }, { accept: 'text/html' }) },
  {
    name: 'accept: multipart/mixed only',
    request: (q, t) => json(t.valid, { query: q }, { accept: 'multipart/mixed' }),
  },
  {
    name: 'accept: the subscription callback type',
    request: (q, t) => json(t.valid, { query: q }, { accept: 'application/json; callbackSpec=1.0' }),
  },
  {
    name: 'a GET without a preflight header',
    request: (q, t) => ({
      method: 'GET',
      headers: { authorization: `Bearer ${t.valid}` },
      search: `?query=${encodeURIComponent(q)}`,
    }),
  },
  // Variables and limits.
  {
    name: '`first` over the maximum in a variable',
    request: (_q, t) => json(t.valid, { query: searchPage, variables: { q: 'granite', first: 101 } }),
  },
  {
    name: 'a variable of the wrong type',
    request: (_q, t) => json(t.valid, { query: searchPage, variables: { q: 'granite', first: 'ten' } }),
  },
  {
    name: 'a missing required variable',
    request: (_q, t) => json(t.valid, { query: searchPage, variables: { first: 1 } }),
  },
  {
    name: 'variables nested 5,000 deep',
    request: (_q, t) =>
      json(t.valid, `{"query": ${JSON.stringify(searchPage)}, "variables": {"q": ${deeplyNested(5000)}}}`),
  },
  {
    name: 'too many aliases',
    request: (_q, t) =>
      json(t.valid, {
        query: `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: search(query: "x") { total }`).join(' ')} }`,
      }),
  },
  {
    name: 'too many tokens',
    request: (_q, t) => json(t.valid, { query: `{ ${'__typename '.repeat(1001)} }` }),
  },
  { name: 'a syntax error', request: (_q, t) => json(t.valid, { query: '{ search(query: "x") { total ' }) },
  { name: 'an unknown field', request: (_q, t) => json(t.valid, { query: '{ nope }' }) },
  { name: 'a subscription', request: (_q, t) => json(t.valid, { query: 'subscription { __typename }' }) },
  {
    name: 'a mutation with a read-only token',
    request: (_q, t) =>
      json(t.readOnly, { query: 'mutation { createDocument(input: { title: "x", body: "y" }) { id } }' }),
  },
  {
    name: 'an unknown persisted id',
    request: (_q, t) =>
      json(t.valid, { extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }),
  },
  {
    name: 'a manifest id with a partner token',
    request: (_q, t) =>
      json(t.partner, {
        operationName: 'SearchPage',
        variables: { query: 'granite' },
        extensions: { persistedQuery: { version: 1, sha256Hash: manifestIds.SearchPage } },
      }),
  },
  // The rate limit, from a tenant whose two requests were spent priming.
  {
    name: 'a tenant over its rate limit',
    tenant: limitedTenant,
    request: (q, t) => json(t.limited, { query: q }),
  },
];

const manifestIds: Record<string, string> = {};

/** What a client can observe, with the one value that moves with the clock (seconds until retry) reduced to its presence. */
async function send(gatewayUrl: string, sent: Sent): Promise<Answer> {
  const response = await fetch(`${gatewayUrl}${sent.search ?? ''}`, {
    method: sent.method ?? 'POST',
    headers: sent.headers,
    body:
      sent.body === undefined
        ? undefined
        : typeof sent.body === 'string'
          ? sent.body
          : JSON.stringify(sent.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: compared as text.
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    retryAfter: response.headers.has('retry-after'),
    body: JSON.parse(JSON.stringify(body), (key, value) =>
      key === 'retryAfterSeconds'
        ? typeof value
        : typeof value === 'string'
          ? value.replace(/retry in \d+s/, 'retry in Ns')
          : value,
    ),
  };
}

describe('the cache-hit path refuses exactly what the full path refuses', () => {
  let redis: TestRedis;
  let stack: TestStack;
  let tokens: Tokens;
  const requestLog: { cache?: string; tenant?: string; msg: string; service?: string }[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    stack = await startTestStack({
      env: {
        REDIS_URL: redis.url,
        RESPONSE_CACHE_TTL_SECONDS: '300',
        RATE_LIMIT_TIERS: 'standard=1000/1000,premium=1000/1000,spent=0.001/2',
      },
      logDestination: { write: (line: string) => requestLog.push(JSON.parse(line)) },
    });
    const manifest = (await import('../../schema/persisted-query-manifest.json', { with: { type: 'json' } }))
      .default as { operations: { id: string; name: string }[] };
    for (const operation of manifest.operations) manifestIds[operation.name] = operation.id;

    const { privateKey: strangerKey } = await generateKeyPair('ES256');
    const sign = (claims: Record<string, unknown>, key = stack.devKey.privateKey, kid = stack.devKey.kid) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(key);
    const now = Math.floor(Date.now() / 1000);
    const standard = {
      iss: DEV_ISSUER,
      aud: DEV_AUDIENCE,
      sub: 'user',
      tenant_id: tenant,
      scope: 'documents:read',
    };
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    tokens = {
      valid: await stack.token(tenant),
      readOnly: await stack.token(tenant, { scopes: ['documents:read'] }),
      writeOnly: await stack.token(tenant, { scopes: ['documents:write'] }),
      noScope: await stack.token(tenant, { scopes: [] }),
      partner: await stack.token(tenant, { partner: true, scopes: ['documents:read'] }),
      limited: await stack.token(limitedTenant, { tier: 'spent', scopes: ['documents:read'] }),
      expired: await sign({ ...standard, iat: now - 7200, exp: now - 3600 }),
      notYetValid: await sign({ ...standard, iat: now, nbf: now + 3600, exp: now + 7200 }),
      wrongAudience: await sign({ ...standard, aud: 'someone-else', iat: now, exp: now + 3600 }),
      wrongIssuer: await sign({ ...standard, iss: 'https://issuer.invalid', iat: now, exp: now + 3600 }),
      unknownKey: await sign({ ...standard, iat: now, exp: now + 3600 }, strangerKey, 'stranger'),
      noTenant: await sign({ ...standard, tenant_id: undefined, iat: now, exp: now + 3600 }),
      numericTenant: await sign({ ...standard, tenant_id: 42, iat: now, exp: now + 3600 }),
      unsigned: `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ ...standard, iat: now, exp: now + 3600 })}.`,
    };
    await stack.graphql(
      'mutation { createDocument(input: { title: "Granite runbook", body: "granite" }) { id } }',
      {
        token: tokens.valid,
      },
    );
    await stack.settle();
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it(`gives the same answer cold and warm for each of ${cases.length} kinds of request`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
    const differences: string[] = [];
    for (const [index, kind] of cases.entries()) {
      // Named `Case` in every text, so `operationName: 'Case'` fits; the alias makes each case's text its own.
      const query = `query Case { case${index}: search(query: "granite") { total } }`;
      // Prime: the first request stores the answer and the second must be a hit, so the cache is warm for this text.
      const primer = kind.tenant === limitedTenant ? tokens.limited : tokens.valid;
      requestLog.length = 0;
      for (let attempt = 0; attempt < 2; attempt++) {
        const primed = await send(stack.gatewayUrl, json(primer, { query }));
        expect(primed.status, `${kind.name}: priming`).toBe(200);
      }
      const gatewayLines = requestLog.filter((line) => line.msg === 'request' && line.service === 'gateway');
      expect(gatewayLines.at(-1)?.cache, `${kind.name}: the cache is warm`).toBe('hit');

      // A comment makes a text the cache has never seen, and changes nothing else a client can observe.
      const cold = await send(stack.gatewayUrl, kind.request(`${query}\n# cold`, tokens));
      const warm = await send(stack.gatewayUrl, kind.request(query, tokens));
      if (JSON.stringify(cold) !== JSON.stringify(warm)) {
        differences.push(`${kind.name}:\n  cold ${JSON.stringify(cold)}\n  warm ${JSON.stringify(warm)}`);
      }
    }
    expect(differences.join('\n')).toBe('');
  });
});

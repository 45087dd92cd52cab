import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PersistedQueryManifest } from '../../gateway/persisted-operations/manifest.ts';
import { manifestPath } from '../../schema/operations.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';
import { eventually } from '../resilience/harness.ts';

interface LogLine {
  msg: string;
  service?: string;
  tenant?: string;
  operation?: string | null;
  cache?: string;
}

/**
 * Response cache hits are answered in front of Apollo Server. Every check
 * that guards the full path must hold there too: each test first puts the
 * answer in the cache with a caller who may see it, then asks again as a
 * caller who may not. `same-refusals.test.ts` compares the two paths'
 * answers for every kind of refusal; these are the cases it cannot see.
 */
describe('response cache hits answered before Apollo', () => {
  const raw: string[] = [];
  let stack: TestStack;
  let suggestId: string;
  let manifest: PersistedQueryManifest;
  /** The gateway's manifest: a copy it reloads quickly, so a test can drop an operation from it. */
  let liveManifestPath: string;

  const suggestQuery =
    'query Suggest($prefix: String!, $first: Int = 5) { suggest(prefix: $prefix, first: $first) }';
  const post = (token: string | null, body: unknown, headers: Record<string, string> = {}) =>
    fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: JSON.stringify(body),
    });
  const cacheStatuses = () =>
    raw
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.service === 'gateway' && line.msg === 'request')
      .map((line) => line.cache);
  /** Runs a query twice as a caller who may, so the second answer came from the cache. */
  const warm = async (token: string, body: unknown) => {
    for (let i = 0; i < 2; i += 1) expect((await post(token, body)).status).toBe(200);
    expect(cacheStatuses().slice(-2)).toEqual(['miss', 'hit']);
  };

  beforeAll(async () => {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as PersistedQueryManifest;
    suggestId = manifest.operations.find((operation) => operation.name === 'Suggest')!.id;
    liveManifestPath = join(await mkdtemp(join(tmpdir(), 'quarry-manifest-')), 'manifest.json');
    await writeFile(liveManifestPath, JSON.stringify(manifest));
    stack = await startTestStack({
      env: {
        RESPONSE_CACHE_TTL_SECONDS: '30',
        RATE_LIMIT_TIERS: 'standard=50/100,tiny=0.1/2',
        PERSISTED_QUERY_MANIFEST: liveManifestPath,
        PERSISTED_QUERY_RELOAD_MS: '50',
      },
      logDestination: { write: (line: string) => raw.push(line) },
    });
  });
  beforeEach(() => {
    raw.length = 0;
  });
  afterAll(() => stack?.stop());

  it('answers a hit with the bytes, status and headers of the miss before it', async () => {
    const token = await stack.token('tenant-sc-bytes');
    const body = { query: suggestQuery, variables: { prefix: 'a' } };
    const miss = await post(token, body);
    const hit = await post(token, body);
    expect(cacheStatuses()).toEqual(['miss', 'hit']);
    expect(hit.status).toBe(miss.status);
    expect(await hit.text()).toBe(await miss.text());
    // Every response has its own date and request id; a hit must carry one too.
    const perResponse = new Set(['date', 'x-request-id']);
    const headers = (response: Response) =>
      Object.fromEntries([...response.headers].filter(([name]) => !perResponse.has(name)));
    expect(headers(hit)).toEqual(headers(miss));
    expect(hit.headers.get('x-request-id')).toMatch(/^[\da-f]{32}$/);
    expect(hit.headers.get('x-request-id')).not.toBe(miss.headers.get('x-request-id'));
  });

  it('negotiates the media type as Apollo does, and leaves an unacceptable one to Apollo (406)', async () => {
    const token = await stack.token('tenant-sc-accept');
    const body = { query: suggestQuery, variables: { prefix: 'b' } };
    await warm(token, body);
    const graphqlResponse = await post(token, body, { accept: 'application/graphql-response+json' });
    expect(graphqlResponse.headers.get('content-type')).toBe(
      'application/graphql-response+json; charset=utf-8',
    );
    const html = await post(token, body, { accept: 'text/html' });
    expect(html.status).toBe(406);
    // Apollo picks the media type only after running the operation, uncached.
    expect(cacheStatuses().slice(-2)).toEqual(['hit', 'bypass']);
  });

  it('holds partners to the safelist even for text a first-party client of the tenant has cached', async () => {
    const firstParty = await stack.token('tenant-sc-partner');
    const partner = await stack.token('tenant-sc-partner', { partner: true });
    const text = { query: suggestQuery, variables: { prefix: 'e' } };
    await warm(firstParty, text);
    const refused = (await (await post(partner, text)).json()) as {
      errors: { extensions: { code: string } }[];
    };
    expect(refused.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_ID_REQUIRED');

    // An id outside the manifest is refused even once a first-party client has run it through APQ.
    const unlisted = 'query Unlisted { suggest(prefix: "e") }';
    const { createHash } = await import('node:crypto');
    const unlistedId = createHash('sha256').update(unlisted).digest('hex');
    const persisted = (id: string, variables?: Record<string, unknown>) => ({
      variables,
      extensions: { persistedQuery: { version: 1, sha256Hash: id } },
    });
    expect((await post(firstParty, { query: unlisted, ...persisted(unlistedId) })).status).toBe(200);
    await warm(firstParty, persisted(unlistedId));
    const notListed = (await (await post(partner, persisted(unlistedId))).json()) as {
      errors: { extensions: { code: string } }[];
    };
    expect(notListed.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');

    // A manifest id is a partner's to run, and is answered from the cache like any query.
    raw.length = 0;
    for (let i = 0; i < 2; i += 1) {
      const response = await post(partner, persisted(suggestId, { prefix: 'e' }));
      expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined();
    }
    expect(cacheStatuses()).toEqual(['miss', 'hit']);
  });

  it("takes a token from the tenant's rate limit for every hit", async () => {
    const token = await stack.token('tenant-sc-rate', { tier: 'tiny' });
    const body = { query: suggestQuery, variables: { prefix: 'f' } };
    await warm(token, body);
    const limited = await post(token, body);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it("never answers one tenant from another's entry, nor a different request from a cached one", async () => {
    const tokenA = await stack.token('tenant-sc-a');
    await warm(tokenA, { query: suggestQuery, variables: { prefix: 'g' } });
    raw.length = 0;
    await post(await stack.token('tenant-sc-b'), { query: suggestQuery, variables: { prefix: 'g' } });
    await post(tokenA, { query: suggestQuery, variables: { prefix: 'g', first: 1 } });
    await post(tokenA, { query: suggestQuery, variables: { prefix: 'g' }, operationName: 'Suggest' });
    const emptyName = await post(tokenA, {
      query: suggestQuery,
      variables: { prefix: 'g' },
      operationName: '',
    });
    expect(((await emptyName.json()) as { errors?: unknown[] }).errors).toHaveLength(1);
    expect(cacheStatuses()).toHaveLength(4);
    expect(cacheStatuses()).not.toContain('hit');
  });

  it('counts and logs a hit like any request, with its operation and tenant', async () => {
    const token = await stack.token('tenant-sc-observed');
    await warm(token, { query: suggestQuery, variables: { prefix: 'i' } });
    const hitLine = raw
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.service === 'gateway' && line.msg === 'request')
      .at(-1);
    expect(hitLine).toMatchObject({ tenant: 'tenant-sc-observed', operation: 'Suggest', cache: 'hit' });
    const metrics = await (await fetch(new URL('/metrics', stack.gatewayUrl))).text();
    const served = metrics
      .split('\n')
      .find(
        (line) =>
          line.startsWith('quarry_graphql_requests_total{') && line.includes('tenant="tenant-sc-observed"'),
      );
    expect(served).toMatch(/operation="Suggest".* 2$/);
  });

  it('stops answering a safelisted id from the cache as soon as the manifest drops it', async () => {
    const token = await stack.token('tenant-sc-manifest');
    const byId = {
      variables: { prefix: 'j' },
      extensions: { persistedQuery: { version: 1, sha256Hash: suggestId } },
    };
    await warm(token, byId);
    // The id stands for its text: the same operation sent as text finds the same entry.
    const text = manifest.operations.find((operation) => operation.id === suggestId)!.body;
    raw.length = 0;
    expect((await post(token, { query: text, variables: { prefix: 'j' } })).status).toBe(200);
    expect(cacheStatuses()).toEqual(['hit']);

    const without = manifest.operations.filter((operation) => operation.id !== suggestId);
    await writeFile(liveManifestPath, JSON.stringify({ ...manifest, operations: without }));
    try {
      // Not in the manifest, and never registered through APQ: Apollo does not know it.
      await eventually(async () => {
        const dropped = (await (await post(token, byId)).json()) as {
          errors?: { extensions: { code: string } }[];
        };
        expect(dropped.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
      }, 5_000);
    } finally {
      await writeFile(liveManifestPath, JSON.stringify(manifest));
    }
  });
});

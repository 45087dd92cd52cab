import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../gateway/persisted-operations/manifest.ts';
import { manifestPath } from '../../schema/operations.ts';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../server/auth/dev-keys.ts';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

interface Manifest {
  operations: { id: string; name: string; body: string }[];
}

describe('persisted operations for partners', () => {
  let stack: TestStack;
  let manifest: Manifest;
  let localManifest: string;
  let partner: string;
  let firstParty: string;
  const logLines: { level: string; msg: string; operations?: number }[] = [];
  const idOf = (name: string) => manifest.operations.find((operation) => operation.name === name)!.id;
  const byId = (id: string, variables: Record<string, unknown>, token: string) =>
    postGraphQL(
      stack.gatewayUrl,
      { variables, extensions: { persistedQuery: { version: 1, sha256Hash: id } } },
      token,
    );

  beforeAll(async () => {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
    // A copy the tests may rewrite, so reloading can be watched without touching the committed file.
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    localManifest = join(await mkdtemp(join(tmpdir(), 'quarry-pq-')), 'manifest.json');
    await copyFile(manifestPath, localManifest);
    stack = await startTestStack({
      env: {
        PERSISTED_QUERY_MANIFEST: localManifest,
        PERSISTED_QUERY_RELOAD_MS: '50',
        PARTNER_CLIENTS: 'partner-service-account',
        // Below the SearchPage body's size: persisted operations must not be held to it.
        LIMIT_MAX_TOKENS: '60',
      },
      logDestination: { write: (line: string) => logLines.push(JSON.parse(line)) },
    });
    partner = await stack.token('acme', { partner: true });
    firstParty = await stack.token('acme');
  });
  afterAll(() => stack.stop());

  it('runs the whole partner flow with ids only: create, search, read, suggest', async () => {
    const created = await byId(
      idOf('CreateDocument'),
      { input: { title: 'Partner onboarding guide', body: 'How partners integrate', tags: ['partner'] } },
      partner,
    );
    expect(created.errors).toBeUndefined();
    const id = (created.data as { createDocument: { id: string } }).createDocument.id;
    await stack.settle();

    const page = await byId(idOf('SearchPage'), { query: 'onboarding' }, partner);
    expect(page.errors).toBeUndefined();
    const search = (page.data as { search: { total: number; hits: { document: { id: string } }[] } }).search;
    expect(search.total).toBe(1);
    expect(search.hits[0]?.document.id).toBe(id);

    const one = await byId(idOf('DocumentById'), { id }, partner);
    expect((one.data as { document: { title: string } }).document.title).toBe('Partner onboarding guide');
    const many = await byId(idOf('DocumentsByIds'), { ids: [id, 'missing'] }, partner);
    expect((many.data as { documents: unknown[] }).documents).toHaveLength(2);
    const suggest = await byId(idOf('Suggest'), { prefix: 'partn' }, partner);
    expect(suggest.data).toEqual({ suggest: ['Partner onboarding guide'] });
  });

  it('lets a partner retry a create by id with its idempotency key, writing once', async () => {
    const variables = {
      input: { title: 'Partner retry', body: 'Sent twice' },
      idempotencyKey: 'partner-retry-1',
    };
    const first = await byId(idOf('CreateDocumentWithKey'), variables, partner);
    const retried = await byId(idOf('CreateDocumentWithKey'), variables, partner);
    expect(first.errors).toBeUndefined();
    expect(retried.data).toEqual(first.data);
  });

  it('holds client text to the token limit, but not a manifest body (parsed and checked at load)', async () => {
    const body = manifest.operations.find((operation) => operation.name === 'SearchPage')!.body;
    const asText = await stack.graphql(body, { token: firstParty, variables: { query: 'x' } });
    expect(asText.status).toBe(400);
    expect(asText.errors?.[0]?.extensions).toEqual({ code: 'OPERATION_LIMIT_EXCEEDED' });
    const asId = await byId(idOf('SearchPage'), { query: 'x' }, firstParty);
    expect(asId.errors).toBeUndefined();
  });

  it('refuses free-form query text from a partner with PERSISTED_QUERY_ID_REQUIRED', async () => {
    const result = await stack.graphql('{ suggest(prefix: "a") }', { token: partner });
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'PERSISTED_QUERY_ID_REQUIRED' });
    expect(result.data).toBeUndefined();
  });

  it('refuses query text even when it comes with its own APQ hash', async () => {
    const query = '{ suggest(prefix: "a") }';
    const result = await postGraphQL(
      stack.gatewayUrl,
      { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } },
      partner,
    );
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'PERSISTED_QUERY_ID_REQUIRED' });
  });

  it('refuses an id outside the manifest with PERSISTED_QUERY_NOT_IN_LIST', async () => {
    const result = await byId(sha256('{ __typename }'), {}, partner);
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'PERSISTED_QUERY_NOT_IN_LIST' });
  });

  it('treats a configured client (PARTNER_CLIENTS, by sub) as a partner without the claim', async () => {
    const token = await stack.token('acme', { subject: 'partner-service-account' });
    const free = await stack.graphql('{ suggest(prefix: "a") }', { token });
    expect(free.errors?.[0]?.extensions).toEqual({ code: 'PERSISTED_QUERY_ID_REQUIRED' });
    const persisted = await byId(idOf('Suggest'), { prefix: 'a' }, token);
    expect(persisted.errors).toBeUndefined();
  });

  it('treats a configured client as a partner by client_id, even when azp names another client', async () => {
    const token = await new SignJWT({
      tenant_id: 'acme',
      scope: 'documents:read',
      azp: 'web',
      client_id: 'partner-service-account',
    })
      .setProtectedHeader({ alg: 'ES256', kid: stack.devKey.kid })
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setSubject('someone')
      .setExpirationTime('10m')
      .sign(stack.devKey.privateKey);
    const free = await stack.graphql('{ suggest(prefix: "a") }', { token });
    expect(free.errors?.[0]?.extensions).toEqual({ code: 'PERSISTED_QUERY_ID_REQUIRED' });
  });

  it('lets first-party clients send free-form queries, manifest ids, and register through APQ', async () => {
    const free = await stack.graphql('{ suggest(prefix: "a") }', { token: firstParty });
    expect(free.errors).toBeUndefined();
    const persisted = await byId(idOf('Suggest'), { prefix: 'a' }, firstParty);
    expect(persisted.errors).toBeUndefined();

    const query = '{ documents(ids: ["apq-probe"]) { id } }';
    const hash = sha256(query);
    const miss = await byId(hash, {}, firstParty);
    expect(miss.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const register = await postGraphQL(
      stack.gatewayUrl,
      { query, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } },
      firstParty,
    );
    expect(register.data).toEqual({ documents: [null] });
    const hit = await byId(hash, {}, firstParty);
    expect(hit.data).toEqual({ documents: [null] });
    // An APQ registration never widens a partner's safelist.
    expect((await byId(hash, {}, partner)).errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('reloads a changed manifest without a restart, plans what it adds, and keeps the last good one when a new one is bad', async () => {
    const body = 'query PartnerTotal($query: String!) { search(query: $query) { total } }';
    const id = sha256(body);
    expect((await byId(id, { query: 'x' }, partner)).errors?.[0]?.extensions?.code).toBe(
      'PERSISTED_QUERY_NOT_IN_LIST',
    );

    const next = {
      ...manifest,
      operations: [...manifest.operations, { id, name: 'PartnerTotal', type: 'query', body }],
    };
    // Written beside it and renamed over it, as deploy tools do.
    await writeFile(`${localManifest}.tmp`, JSON.stringify(next));
    await rename(`${localManifest}.tmp`, localManifest);
    // The added operation is planned before its first request, and only it.
    const warmed = (line: { msg: string }) => line.msg === 'query plans of the persisted operations warmed';
    const warmedAtStart = logLines.filter(warmed).length;
    await expect
      .poll(() => logLines.filter(warmed).slice(warmedAtStart), { timeout: 5000, interval: 50 })
      .toEqual([expect.objectContaining({ operations: 1 })]);
    await expect
      .poll(async () => (await byId(id, { query: 'x' }, partner)).data, { timeout: 5000, interval: 50 })
      .toEqual({ search: { total: 0 } });

    await writeFile(
      localManifest,
      '{ "format": "apollo-persisted-query-manifest", "version": 1, "operations": [',
    );
    // The reload was tried, failed, and said so.
    await expect
      .poll(() => logLines.find((line) => line.msg.includes('persisted query manifest not reloaded')), {
        timeout: 5000,
        interval: 50,
      })
      .toMatchObject({ level: 'error' });
    expect((await byId(id, { query: 'x' }, partner)).data).toEqual({ search: { total: 0 } });
    expect((await byId(idOf('Suggest'), { prefix: 'a' }, partner)).errors).toBeUndefined();
  });
});

import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../helpers/certificates.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

/** HTTPS on every service, and mutual TLS from the gateway to the subgraphs, with certificates made here. */
describe('transport: TLS and mTLS', () => {
  let pki: TestPki;
  let stack: TestStack;
  let token: string;
  const agents: Agent[] = [];
  const agent = (files: { cert?: string; key?: string } = {}) => {
    const created = new Agent({
      connect: {
        ca: readFileSync(pki.path('ca.pem')),
        cert: files.cert ? readFileSync(pki.path(files.cert)) : undefined,
        key: files.key ? readFileSync(pki.path(files.key)) : undefined,
      },
    });
    agents.push(created);
    return created;
  };
  const post = (url: string, dispatcher: Agent, query: string) =>
    fetch(url, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });

  beforeAll(async () => {
    pki = await createTestPki();
    stack = await startTestStack({
      env: {
        TLS_CERT: pki.path('server.pem'),
        TLS_KEY: pki.path('server.key'),
        SUBGRAPH_CLIENT_CA: pki.path('ca.pem'),
        SUBGRAPH_TLS_CA: pki.path('ca.pem'),
        SUBGRAPH_TLS_CERT: pki.path('client.pem'),
        SUBGRAPH_TLS_KEY: pki.path('client.key'),
      },
    });
    token = await stack.token('tenant-a');
  });
  afterAll(async () => {
    await stack.stop();
    await Promise.all(agents.map((created) => created.close()));
    await rm(pki.dir, { recursive: true, force: true });
  });

  it('serves the gateway over HTTPS with HSTS, reaching both subgraphs over mTLS', async () => {
    expect(stack.gatewayUrl).toMatch(/^https:/);
    expect(stack.documentsUrl).toMatch(/^https:/);
    const created = await post(
      stack.gatewayUrl,
      agent(),
      'mutation { createDocument(input: { title: "Over TLS", body: "mutual" }) { id } }',
    );
    expect(created.status).toBe(200);
    expect(created.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    await stack.settle();
    const found = await post(
      stack.gatewayUrl,
      agent(),
      '{ search(query: "tls") { hits { document { title } } } }',
    );
    expect(await found.json()).toEqual({ data: { search: { hits: [{ document: { title: 'Over TLS' } }] } } });
  });

  it('refuses plain HTTP on the gateway port', async () => {
    await expect(fetch(stack.gatewayUrl.replace('https:', 'http:'), { method: 'POST' })).rejects.toThrow();
  });

  it('subgraphs refuse a TLS client without a certificate, or with one from another CA', async () => {
    await expect(post(stack.documentsUrl, agent(), '{ _service { sdl } }')).rejects.toThrow();
    await expect(
      post(
        stack.searchUrl,
        agent({ cert: 'rogue-client.pem', key: 'rogue-client.key' }),
        '{ _service { sdl } }',
      ),
    ).rejects.toThrow();
  });

  it("subgraphs accept the gateway's client certificate (and still require a token)", async () => {
    const response = await post(
      stack.documentsUrl,
      agent({ cert: 'client.pem', key: 'client.key' }),
      '{ documents(ids: ["x"]) { id } }',
    );
    expect(await response.json()).toEqual({ data: { documents: [null] } });
  });
});

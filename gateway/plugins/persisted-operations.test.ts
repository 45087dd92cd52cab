import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { type DocumentNode, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../server/auth/jwt-verifier.ts';
import { sha256 } from '../persisted-operations/manifest.ts';
import type { PersistedOperationStore } from '../persisted-operations/store.ts';
import { isPartner, persistedDocumentStore } from './persisted-operations.ts';

const body = 'query Suggest { suggest(prefix: "a") }';
const operation = { id: sha256(body), name: 'Suggest', body, document: parse(body) };
const store: PersistedOperationStore = {
  get: (id) => (id === operation.id ? operation : undefined),
  operations: () => [operation],
  close: () => {},
};

describe('persistedDocumentStore', () => {
  it('answers a manifest hash with the document parsed at load, under any schema prefix', async () => {
    const documents = persistedDocumentStore(store);
    expect(await documents.get(`schema-hash:${operation.id}`)).toBe(operation.document);
  });

  it('falls back to the ordinary cache for everything else, and never stores into the manifest', async () => {
    const fallback = new InMemoryLRUCache<DocumentNode>();
    const documents = persistedDocumentStore(store, fallback);
    const other = parse('{ __typename }');
    expect(await documents.get('schema-hash:abc')).toBeUndefined();
    await documents.set('schema-hash:abc', other);
    expect(await documents.get('schema-hash:abc')).toBe(other);
    expect(await fallback.get('schema-hash:abc')).toBe(other);
  });
});

describe('isPartner', () => {
  const principal = (overrides: Partial<Principal>): Principal => ({
    tenantId: 't',
    subject: 'user',
    scopes: new Set(),
    clientType: 'first-party',
    clientIds: [],
    tier: 'standard',
    token: 'x',
    expiresAt: Date.now() + 60_000,
    ...overrides,
  });

  it('follows the client_type claim, or the configured client list by sub, azp or client_id', () => {
    expect(isPartner(principal({ clientType: 'partner' }))).toBe(true);
    expect(isPartner(principal({}))).toBe(false);
    expect(isPartner(principal({ subject: 'svc-acme' }), ['svc-acme'])).toBe(true);
    expect(isPartner(principal({ clientIds: ['acme-app'] }), ['acme-app'])).toBe(true);
    expect(isPartner(principal({ clientIds: ['web'] }), ['acme-app'])).toBe(false);
    // azp and client_id both present and different: either one listed is enough.
    expect(isPartner(principal({ clientIds: ['web', 'acme-app'] }), ['acme-app'])).toBe(true);
  });
});

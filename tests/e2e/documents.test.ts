import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DocumentStore, WriteOutcomeUnknownError } from '../../subgraphs/documents/document-store.ts';
import { type CallCounts, countCalls } from '../helpers/counting.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

const documentFields = 'id title body tags author status version createdAt updatedAt';

/** While `lose.next` is set, the next create is applied and then fails as a commit whose answer was lost. */
function losingAnswers<T extends DocumentStore>(store: T, lose: { next: boolean }): T {
  const create: DocumentStore['create'] = async (...args) => {
    const created = await store.create(...args);
    if (!lose.next) return created;
    lose.next = false;
    throw new WriteOutcomeUnknownError('commit unconfirmed');
  };
  return new Proxy(store, {
    get(object, property) {
      if (property === 'create') return create;
      const value = Reflect.get(object, property);
      // Bound: the adapter's methods read its private fields, which a proxy as `this` does not have.
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

describe('documents through the gateway', () => {
  let stack: TestStack;
  let token: string;
  const storeCalls: CallCounts = new Map();
  const lose = { next: false };

  beforeAll(async () => {
    stack = await startTestStack({
      decorateStore: (store) => countCalls(losingAnswers(store, lose), storeCalls),
    });
    token = await stack.token('tenant-docs');
  });
  afterAll(() => stack.stop());

  async function create(input: Record<string, unknown>) {
    const result = await stack.graphql<{ createDocument: Record<string, unknown> }>(
      `mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { ${documentFields} } }`,
      { variables: { input }, token },
    );
    return result;
  }

  it('creates a document with defaults and reads it back', async () => {
    const created = await create({ title: '  Hello world ', body: 'First body', tags: ['a', 'a', 'b'] });
    expect(created.errors).toBeUndefined();
    const document = created.data?.createDocument;
    expect(document).toMatchObject({
      title: 'Hello world',
      body: 'First body',
      tags: ['a', 'b'],
      author: null,
      status: 'DRAFT',
      version: 1,
    });
    expect(document?.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/);

    const read = await stack.graphql<{ document: Record<string, unknown> }>(
      `query ($id: ID!) { document(id: $id) { ${documentFields} } }`,
      { variables: { id: document?.id }, token },
    );
    expect(read.data?.document).toEqual(document);
  });

  it('returns documents in the order asked, with null for missing ids', async () => {
    const first = (await create({ title: 'One', body: '1' })).data?.createDocument.id;
    const second = (await create({ title: 'Two', body: '2' })).data?.createDocument.id;
    const result = await stack.graphql<{ documents: ({ id: string } | null)[] }>(
      'query ($ids: [ID!]!) { documents(ids: $ids) { id title } }',
      { variables: { ids: [second, 'missing', first] }, token },
    );
    expect(result.data?.documents).toEqual([{ id: second, title: 'Two' }, null, { id: first, title: 'One' }]);
  });

  it('returns null for an absent document', async () => {
    const result = await stack.graphql('{ document(id: "nope") { id } }', { token });
    expect(result.data).toEqual({ document: null });
  });

  it('refuses more than 100 ids with BAD_USER_INPUT', async () => {
    const ids = Array.from({ length: 101 }, (_, index) => `id-${index}`);
    const result = await stack.graphql('query ($ids: [ID!]!) { documents(ids: $ids) { id } }', {
      variables: { ids },
      token,
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'ids' });
  });

  it('updates with optimistic concurrency and refuses a stale version without changing anything', async () => {
    const id = (await create({ title: 'Versioned', body: 'v1' })).data?.createDocument.id;
    const updated = await stack.graphql<{ updateDocument: { version: number; title: string; body: string } }>(
      'mutation ($id: ID!) { updateDocument(id: $id, input: { title: "Versioned 2" }, expectedVersion: 1) { version title body } }',
      { variables: { id }, token },
    );
    expect(updated.data?.updateDocument).toEqual({ version: 2, title: 'Versioned 2', body: 'v1' });

    const stale = await stack.graphql(
      'mutation ($id: ID!) { updateDocument(id: $id, input: { title: "Lost update" }, expectedVersion: 1) { version } }',
      { variables: { id }, token },
    );
    expect(stale.errors?.[0]?.extensions).toEqual({ code: 'VERSION_CONFLICT', currentVersion: 2 });

    const after = await stack.graphql<{ document: { title: string; version: number } }>(
      'query ($id: ID!) { document(id: $id) { title version } }',
      { variables: { id }, token },
    );
    expect(after.data?.document).toEqual({ title: 'Versioned 2', version: 2 });
  });

  it('updates without expectedVersion and reports NOT_FOUND for a missing document', async () => {
    const missing = await stack.graphql(
      'mutation { updateDocument(id: "missing", input: { title: "x" }) { id } }',
      { token },
    );
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it.each([
    [{ title: '   ', body: 'x' }, 'title'],
    [{ title: 'x'.repeat(301), body: 'x' }, 'title'],
    [{ title: 'ok', body: 'x'.repeat(100_001) }, 'body'],
    [{ title: 'ok', body: 'x', tags: ['t'.repeat(65)] }, 'tags'],
    [{ title: 'ok', body: 'x', tags: Array.from({ length: 33 }, (_, index) => `t${index}`) }, 'tags'],
    [{ title: 'ok', body: 'x', tags: [' '] }, 'tags'],
    [{ title: 'ok', body: 'x', author: 'a'.repeat(201) }, 'author'],
  ])('refuses invalid input %# naming the field, and writes nothing', async (input, field) => {
    const writesBefore = storeCalls.get('create') ?? 0;
    const result = await create(input);
    expect(result.data).toBeNull();
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
    expect(result.errors?.[0]?.message).toContain(field);
    expect(storeCalls.get('create') ?? 0).toBe(writesBefore);
  });

  it('deletes a document once', async () => {
    const id = (await create({ title: 'Doomed', body: 'x' })).data?.createDocument.id;
    const first = await stack.graphql('mutation ($id: ID!) { deleteDocument(id: $id) }', {
      variables: { id },
      token,
    });
    const second = await stack.graphql('mutation ($id: ID!) { deleteDocument(id: $id) }', {
      variables: { id },
      token,
    });
    expect(first.data).toEqual({ deleteDocument: true });
    expect(second.data).toEqual({ deleteDocument: false });
  });

  it('answers a mutation retried with its idempotency key with the first outcome, and refuses the key for other input', async () => {
    const createKeyed = (title: string, idempotencyKey: string, who = token) =>
      stack.graphql<{ createDocument: { id: string; version: number } }>(
        'mutation ($input: CreateDocumentInput!, $key: String) { createDocument(input: $input, idempotencyKey: $key) { id version } }',
        { variables: { input: { title, body: 'keyed' }, key: idempotencyKey }, token: who },
      );
    const writesBefore = storeCalls.get('create') ?? 0;
    const first = await createKeyed('Keyed once', 'key-e2e-1');
    const retried = await createKeyed('Keyed once', 'key-e2e-1');
    expect(first.errors).toBeUndefined();
    expect(retried.data).toEqual(first.data);

    const reused = await createKeyed('Something else', 'key-e2e-1');
    expect(reused.data).toBeNull();
    expect(reused.errors?.[0]?.extensions).toEqual({
      code: 'IDEMPOTENCY_KEY_REUSED',
      field: 'idempotencyKey',
    });

    // Keys are per tenant: another tenant's write under the same key is its own.
    const theirs = await createKeyed('Keyed once', 'key-e2e-1', await stack.token('tenant-docs-other'));
    expect(theirs.data?.createDocument.id).not.toBe(first.data?.createDocument.id);

    const tooLong = await createKeyed('Keyed once', 'k'.repeat(256));
    expect(tooLong.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });
    // Every keyed call reached the store, and only the first of each tenant wrote.
    expect((storeCalls.get('create') ?? 0) - writesBefore).toBe(4);
    const admin = await stack.token('tenant-docs-keyed', {
      scopes: ['documents:read', 'documents:write', 'tenant:admin'],
    });
    await createKeyed('Counted', 'key-e2e-2', admin);
    await createKeyed('Counted', 'key-e2e-2', admin);
    const usage = await stack.graphql<{ usage: { documents: number } }>('{ usage { documents } }', {
      token: admin,
    });
    expect(usage.data?.usage.documents).toBe(1);

    const deleteKeyed = () =>
      stack.graphql('mutation ($id: ID!) { deleteDocument(id: $id, idempotencyKey: "delete-e2e") }', {
        variables: { id: first.data?.createDocument.id },
        token,
      });
    expect((await deleteKeyed()).data).toEqual({ deleteDocument: true });
    expect((await deleteKeyed()).data).toEqual({ deleteDocument: true });
  });

  it('answers WRITE_OUTCOME_UNKNOWN when the store lost the answer to an applied write, and the keyed retry returns it once', async () => {
    const createKeyed = () =>
      stack.graphql<{ createDocument: { id: string; version: number } }>(
        'mutation ($input: CreateDocumentInput!) { createDocument(input: $input, idempotencyKey: "lost-e2e") { id version } }',
        { variables: { input: { title: 'Lost answer', body: 'applied' } }, token },
      );
    lose.next = true;
    const lost = await createKeyed();
    expect(lost.errors?.map((error) => error.extensions?.code)).toEqual(['WRITE_OUTCOME_UNKNOWN']);
    const retried = await createKeyed();
    expect(retried.errors).toBeUndefined();
    const read = await stack.graphql<{ document: { title: string } | null }>(
      'query ($id: ID!) { document(id: $id) { title } }',
      { variables: { id: retried.data?.createDocument.id }, token },
    );
    expect(read.data?.document).toEqual({ title: 'Lost answer' });
  });
});

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestRedis } from '../helpers/redis-server.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

const execute = promisify(execFile);
/** Each CLI run starts Node and opens every store: seconds on a loaded machine. Killed past this, so none outlives the test. */
const cliTimeoutMs = 90_000;
const run = (command: string, args: string[], options: { env: NodeJS.ProcessEnv }) =>
  execute(command, args, { ...options, timeout: cliTimeoutMs, killSignal: 'SIGKILL' });
const cli = new URL('../../cli/tenant.ts', import.meta.url).pathname;
const importCli = new URL('../../cli/import.ts', import.meta.url).pathname;
const admin = ['documents:read', 'documents:write', 'tenant:admin'];

/** Words only these tenants' documents contain, so any trace of either can be found anywhere. */
const leaving = { tenantId: 'leaving-tenant', word: 'zyxleaving' };
const staying = { tenantId: 'staying-tenant', word: 'qwstaying' };
const search = 'query ($q: String!) { search(query: $q) { total hits { document { id title } } } }';

describe('tenant export and erasure', { timeout: 4 * cliTimeoutMs }, () => {
  const redis = useTestRedis();
  let stack: TestStack;
  let environment: NodeJS.ProcessEnv;

  /** Writes, reads, searches, a rate-limit bucket and an APQ entry: everything that stores something. */
  async function fill({ tenantId, word }: typeof leaving) {
    const token = await stack.token(tenantId, { scopes: admin });
    const create = 'mutation ($input: CreateDocumentInput!) { createDocument(input: $input) { id } }';
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) {
      const created = await stack.graphql<{ createDocument: { id: string } }>(create, {
        variables: { input: { title: `${word} note ${n}`, body: `About ${word}, part ${n}.`, tags: [word] } },
        token,
      });
      ids.push(created.data?.createDocument.id as string);
    }
    await stack.graphql('mutation ($id: ID!) { updateDocument(id: $id, input: { body: "edited" }) { id } }', {
      variables: { id: ids[0] },
      token,
    });
    await stack.graphql('mutation ($id: ID!) { deleteDocument(id: $id) }', {
      variables: { id: ids[1] },
      token,
    });
    await stack.settle();
    await stack.graphql(search, { variables: { q: word }, token });
    await stack.graphql('query ($ids: [ID!]!) { documents(ids: $ids) { id title } }', {
      variables: { ids },
      token,
    });
    const apq = 'query { usage { documents } }';
    const sha256Hash = createHash('sha256').update(apq).digest('hex');
    await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: apq, extensions: { persistedQuery: { version: 1, sha256Hash } } }),
    });
    return token;
  }

  beforeAll(async () => {
    stack = await startTestStack({ env: { REDIS_URL: redis.server.url } });
    environment = { ...process.env, DATA_DIR: stack.dataDir, REDIS_URL: redis.server.url, LOG_LEVEL: 'info' };
    await fill(leaving);
    await fill(staying);
  }, 60_000);
  afterAll(() => stack?.stop());

  it('exports a tenant in the import format, and importing the file into an empty tenant reproduces it', async () => {
    const file = join(stack.dataDir, 'export.jsonl');
    await run('node', [cli, 'export', staying.tenantId, file], { env: environment });
    await run('node', [importCli, file, '--tenant', 'copy-tenant'], { env: environment });
    const copy = join(stack.dataDir, 'copy.jsonl');
    await run('node', [cli, 'export', 'copy-tenant', copy], { env: environment });
    const [original, reproduced] = [await readFile(file, 'utf8'), await readFile(copy, 'utf8')];
    expect(original.trim().split('\n')).toHaveLength(2);
    expect(reproduced).toBe(original);
    await rm(copy);
  });

  it('erases a tenant from every store, leaving the other untouched and searchable', async () => {
    const { stdout } = await run(
      'node',
      [cli, 'erase', leaving.tenantId, '--requested-by', 'privacy-team', '--yes'],
      { env: environment },
    );
    const audit = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(audit.at(-1)).toMatchObject({
      audit: 'tenant-erasure',
      tenantId: leaving.tenantId,
      requestedBy: 'privacy-team',
    });
    expect(stdout).not.toContain(leaving.word);

    // SQLite: every row of every table, the full-text indexes' shadow tables included.
    const database = new DatabaseSync(join(stack.dataDir, 'quarry.db'), { readOnly: true });
    const tables = database.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as {
      name: string;
    }[];
    let stayingRows = 0;
    for (const { name } of tables) {
      for (const row of database.prepare(`SELECT * FROM "${name}"`).all()) {
        const text = JSON.stringify(row, (_, value) =>
          value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value,
        );
        expect(text, `table ${name}`).not.toContain(leaving.tenantId);
        // A prefix, since the full-text index keeps stems ("zyxleaving" as "zyxleav").
        expect(text, `table ${name}`).not.toContain(leaving.word.slice(0, 7));
        if (text.includes(staying.word)) stayingRows++;
      }
    }
    database.close();
    expect(stayingRows).toBeGreaterThan(0);

    // Redis: every key, and every value.
    const keys = await redis.client.keys('*');
    for (const key of keys) {
      expect(key).not.toContain(leaving.tenantId);
      const type = await redis.client.type(key);
      if (type === 'string') expect(await redis.client.get(key), key).not.toContain(leaving.word);
    }
    expect(keys.some((key) => key.includes(staying.tenantId))).toBe(true);

    // The other tenant: still there, still searchable; the erased one finds nothing and can start afresh.
    const stayingToken = await stack.token(staying.tenantId, { scopes: admin });
    const found = await stack.graphql<{ search: { total: number } }>(search, {
      variables: { q: staying.word },
      token: stayingToken,
    });
    expect(found.data?.search.total).toBe(2);
    const leavingToken = await stack.token(leaving.tenantId, { scopes: admin });
    const gone = await stack.graphql<{ search: { total: number }; usage: { documents: number } }>(
      `query ($q: String!) { search(query: $q) { total } usage { documents } }`,
      { variables: { q: leaving.word }, token: leavingToken },
    );
    expect(gone.data).toEqual({ search: { total: 0 }, usage: { documents: 0 } });
  });

  it('is idempotent: erasing again, or a tenant that never existed, succeeds and changes nothing else', async () => {
    await run('node', [cli, 'erase', leaving.tenantId, '--requested-by', 'privacy-team', '--yes'], {
      env: environment,
    });
    await run('node', [cli, 'erase', 'never-existed', '--requested-by', 'privacy-team', '--yes'], {
      env: environment,
    });
    const stayingToken = await stack.token(staying.tenantId, { scopes: admin });
    const found = await stack.graphql<{ search: { total: number } }>(search, {
      variables: { q: staying.word },
      token: stayingToken,
    });
    expect(found.data?.search.total).toBe(2);
  });
});

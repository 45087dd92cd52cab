import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoDocuments } from '../../cli/demo-data.ts';
import { codeBlocks, headingAnchors, relativeLinks, section } from '../helpers/markdown.ts';
import { type ShellSession, startShellSession } from '../helpers/shell-session.ts';
import { postGraphQL, startTestStack, type TestStack } from '../helpers/test-stack.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const readmeGatewayUrl = 'http://127.0.0.1:4000/graphql';
const jwtPattern = /eyJ[\w-]+\.[\w-]+\.[\w-]+/g;
/** npm itself takes a second or two to start on a busy 2-core machine; a tour runs it four times. */
const shellTestTimeoutMs = 120_000;
/** `npm start` seeds, then prints its tokens once all four services listen. */
const startTimeoutMs = 90_000;

interface TourExample {
  /** The comment lines above the command, which say what it shows. */
  comment: string;
  command: string;
  /** The error code the comment says the command fails with, if any. */
  expectedCode: string | undefined;
}

/** The tour's first block: a setup paragraph, then paragraphs of comments and one `gql` command each. */
function tourExamples(block: string): { setup: string; examples: TourExample[] } {
  const [setup = '', ...paragraphs] = block.trim().split(/\n\s*\n/);
  const examples = paragraphs.map((paragraph) => {
    const lines = paragraph.split('\n');
    const comment = lines.filter((line) => line.startsWith('#')).join('\n');
    const command = lines.filter((line) => !line.startsWith('#')).join('\n');
    return { comment, command, expectedCode: comment.match(/fails with `?([A-Z_]+)/)?.[1] };
  });
  return { setup, examples };
}

function parseResponse(output: string, command: string) {
  try {
    return JSON.parse(output) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  } catch {
    throw new Error(`not a GraphQL response from\n${command}\n---\n${output}`);
  }
}

describe("the README's five-minute tour", () => {
  const tour = section(readme, '## Five-minute tour');
  const [tourBlock = '', tokensBlock = ''] = codeBlocks(tour, 'sh');
  let stack: TestStack;
  let shell: ShellSession;

  beforeAll(async () => {
    stack = await startTestStack();
    await seedDemoDocuments(stack.store);
    await stack.settle();
    shell = startShellSession({
      cwd: root,
      // DATA_DIR points `npm run token` at the key this stack verifies with.
      env: { ...process.env, DATA_DIR: stack.dataDir },
    });
  });
  afterAll(async () => {
    await shell?.close();
    await stack?.stop();
  });

  it(
    'runs every API example as written, with errors only where the README says so',
    async () => {
      const { setup, examples } = tourExamples(tourBlock);
      expect(examples.length).toBeGreaterThanOrEqual(8);
      await shell.run(setup.replaceAll(readmeGatewayUrl, stack.gatewayUrl));
      expect(await shell.run('printf %s "$TOKEN"'), 'the setup makes a token').toMatch(jwtPattern);

      let lastEndCursor: string | undefined;
      for (const { comment, command, expectedCode } of examples) {
        // Writes are searchable within the indexer's lag; here the indexer is drained instead of waited for.
        await stack.settle();
        let script = command.replaceAll(readmeGatewayUrl, stack.gatewayUrl);
        if (script.includes('<endCursor>')) {
          expect(lastEndCursor, 'an example before the next page must print an endCursor').toBeDefined();
          script = script.replace('<endCursor>', lastEndCursor ?? '');
        }
        const output = (await shell.run(script)).trim();
        const response = parseResponse(output, command);
        const codes = (response.errors ?? []).map((error) => error.extensions?.code);
        if (expectedCode) expect(codes, comment).toEqual([expectedCode]);
        else expect(response.errors, `${comment}\n${output}`).toBeUndefined();
        lastEndCursor = output.match(/"endCursor":"([^"]+)"/)?.[1] ?? lastEndCursor;
      }
    },
    shellTestTimeoutMs,
  );

  it(
    'makes the tokens the README describes with `npm run token`',
    async () => {
      const commands = tokensBlock
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('npm run token'));
      expect(commands).toHaveLength(3);
      const tokens: string[] = [];
      for (const command of commands) tokens.push((await shell.run(command)).match(jwtPattern)?.[0] ?? '');
      const [readWrite, readOnly, partner] = tokens;

      const read = '{ documents(ids: ["acme-demo-2"]) { id } }';
      const write = 'mutation { createDocument(input: {title: "From the README", body: ""}) { id } }';
      expect((await stack.graphql(read, { token: readWrite })).data).toEqual({
        documents: [{ id: 'acme-demo-2' }],
      });
      expect((await stack.graphql(write, { token: readWrite })).errors).toBeUndefined();

      expect(decodeJwt(readOnly ?? '')).toMatchObject({ sub: 'alice', tenant_id: 'acme' });
      expect((await stack.graphql(read, { token: readOnly })).errors).toBeUndefined();
      const refused = await stack.graphql(write, { token: readOnly });
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

      const partnerText = await stack.graphql(read, { token: partner });
      expect(partnerText.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ID_REQUIRED');
    },
    shellTestTimeoutMs,
  );
});

describe("the README's two commands", () => {
  const commands = codeBlocks(section(readme, '## Run it, test it'), 'sh').map((block) => block.trim());

  it('are `npm install && npm start` and `npm test`, and .ci/run runs the test command', () => {
    expect(commands).toEqual(['npm install && npm start', 'npm test']);
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toMatch(/^npm test\b/m);
  });

  describe('npm start', () => {
    let dataDir: string;
    let child: ChildProcess | undefined;
    /** Resolves once every process holding npm's stdout (npm, its shell, Quarry) has exited. */
    let allExited: Promise<unknown> = Promise.resolve();
    let stopped = false;

    /** Signals npm's whole process group, so Quarry under it never outlives the test. */
    async function stopGroup(signal: NodeJS.Signals) {
      if (child?.pid && !stopped) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // ESRCH: the group has already gone.
        }
      }
      await allExited;
      stopped = true;
    }

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'quarry-readme-start-'));
    });
    afterAll(async () => {
      await stopGroup('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    });

    it(
      'answers GraphQL and prints a token per demo tenant',
      async () => {
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          DATA_DIR: dataDir,
          PORT: '0',
          DOCUMENTS_PORT: '0',
          SEARCH_PORT: '0',
          INDEXER_PORT: '0',
        };
        // As a user runs it: embedded, whatever backends the CI job points the other tests at.
        for (const name of ['NODE_ENV', 'MONGO_URL', 'ELASTICSEARCH_URL', 'REDIS_URL']) delete env[name];
        const started = spawn('npm', ['start'], {
          cwd: root,
          env,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child = started;
        allExited = once(started.stdout, 'close');
        let output = '';
        started.stdout.setEncoding('utf8');
        started.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
        });
        const printed = new Promise<{ url: string; tokens: string[] }>((resolvePrinted, reject) => {
          started.stdout.on('data', (chunk: string) => {
            output += chunk;
            const url = output.match(/http:\/\/127\.0\.0\.1:\d+\/graphql/)?.[0];
            const tokens = output.match(jwtPattern) ?? [];
            if (url && tokens.length >= 2) resolvePrinted({ url, tokens });
          });
          started.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
        });
        const { url, tokens } = await printed;

        const tenants = tokens.map((token) => decodeJwt(token).tenant_id);
        expect(tenants).toEqual(expect.arrayContaining(['acme', 'globex']));
        const acmeToken = tokens[tenants.indexOf('acme')];
        const result = await postGraphQL(
          url,
          { query: '{ documents(ids: ["acme-demo-1"]) { id } }' },
          acmeToken,
        );
        expect(result.data).toEqual({ documents: [{ id: 'acme-demo-1' }] });
        await stopGroup('SIGTERM');
      },
      startTimeoutMs,
    );
  });
});

describe('links in README.md and docs/', () => {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`),
  ];

  it.each(files)('every relative link in %s resolves to a file and heading', (file) => {
    const path = join(root, file);
    const broken = relativeLinks(readFileSync(path, 'utf8')).filter((link) => {
      const [target = '', anchor] = link.split('#');
      const targetPath = target ? resolve(dirname(path), target) : path;
      if (!existsSync(targetPath) || relative(root, targetPath).startsWith('..')) return true;
      if (anchor === undefined || !targetPath.endsWith('.md')) return false;
      return !headingAnchors(readFileSync(targetPath, 'utf8')).has(anchor);
    });
    expect(broken).toEqual([]);
  });
});

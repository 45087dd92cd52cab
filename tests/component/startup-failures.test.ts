import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.ts';

/** A start that fails must say why in one line on stderr, with no stack, and exit 1. */

// Loading the whole stack in a fresh process is slow on a busy two-core machine; generous on purpose.
const cliRunBoundMs = 120_000;

const {
  MONGO_URL: _mongo,
  ELASTICSEARCH_URL: _elasticsearch,
  REDIS_URL: _redis,
  ...inheritedBackends
} = process.env;
// Each test names the identity provider it means, or none.
const inheritedEnvironment = Object.fromEntries(
  Object.entries(inheritedBackends).filter(([name]) => !name.startsWith('JWT_')),
);

let dataDir: string;
const children: ChildProcess[] = [];
const servers: Server[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'quarry-startup-'));
});

afterEach(async () => {
  // A failed assertion or a timeout must not leave a service running.
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  await rm(dataDir, { recursive: true, force: true });
});

function spawnCli(args: string[], environment: Record<string, string>) {
  const child = spawn(process.execPath, args, {
    env: {
      ...inheritedEnvironment,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      PORT: '0',
      DOCUMENTS_PORT: '0',
      SEARCH_PORT: '0',
      INDEXER_PORT: '0',
      ...environment,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk) => {
    output.stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output.stderr += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, ...output }));
  return { child, output, exited };
}

async function occupiedPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('npm start', () => {
  it.each(['PORT', 'DOCUMENTS_PORT', 'SEARCH_PORT', 'INDEXER_PORT'])(
    'names %s when its port is in use',
    async (variable) => {
      const port = await occupiedPort();
      const { code, stderr } = await spawnCli(['cli/start.ts'], { [variable]: String(port) }).exited;
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([
        `Port ${port} on 127.0.0.1 is already in use: stop the process listening there, or set ${variable} to a free port`,
      ]);
    },
    cliRunBoundMs,
  );

  it(
    'names MONGO_URL and its address, without credentials, when MongoDB does not answer',
    async () => {
      const port = await freePort();
      const { code, stderr } = await spawnCli(['cli/start.ts'], {
        MONGO_URL: `mongodb://quarry:secret@127.0.0.1:${port}/quarry`,
        MONGO_SERVER_SELECTION_TIMEOUT_MS: '300',
      }).exited;
      expect(code).toBe(1);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^MongoDB at mongodb://127\\.0\\.0\\.1:${port} \\(MONGO_URL\\) did not answer: `),
      );
    },
    cliRunBoundMs,
  );

  it(
    'names ELASTICSEARCH_URL and its address when Elasticsearch does not answer',
    async () => {
      const port = await freePort();
      const { code, stderr } = await spawnCli(['cli/start.ts'], {
        ELASTICSEARCH_URL: `http://127.0.0.1:${port}`,
        ELASTICSEARCH_MAX_RETRIES: '0',
      }).exited;
      expect(code).toBe(1);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^Elasticsearch at http://127\\.0\\.0\\.1:${port} \\(ELASTICSEARCH_URL\\) did not answer: `,
        ),
      );
    },
    cliRunBoundMs,
  );

  it(
    'names REDIS_URL and its address when Redis does not answer, and keeps serving without it',
    async () => {
      const port = await freePort();
      const { child, output } = spawnCli(['cli/start.ts'], { REDIS_URL: `redis://127.0.0.1:${port}` });
      const warning = `redis at redis://127.0.0.1:${port} (REDIS_URL) is unavailable; serving without it`;
      while (!output.stdout.includes(warning)) {
        await Promise.race([once(child.stdout!, 'data'), once(child, 'exit')]);
        expect(child.exitCode, output.stderr).toBeNull();
      }
      const warningLine = output.stdout.split('\n').find((line) => line.includes(warning));
      expect(JSON.parse(warningLine!)).not.toHaveProperty('err');
    },
    cliRunBoundMs,
  );
});

describe('npm run import', () => {
  it(
    'names the file when it does not exist',
    async () => {
      const missing = join(dataDir, 'no-such-file.jsonl');
      const { code, stderr } = await spawnCli(['cli/import.ts', missing, '--tenant', 'acme'], {}).exited;
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([`File not found: ${missing}`]);
    },
    cliRunBoundMs,
  );
});

describe('a service on its own reads only its concerns', () => {
  it(
    'starts the indexer, which verifies no token, without any JWT_* variable',
    async () => {
      const { child, output } = spawnCli(['indexer/main.ts'], { LOG_LEVEL: 'info' });
      while (!output.stdout.includes('indexer running')) {
        await Promise.race([once(child.stdout!, 'data'), once(child, 'exit')]);
        expect(child.exitCode, output.stderr).toBeNull();
      }
    },
    cliRunBoundMs,
  );

  it(
    'refuses to start the documents service without an issuer, naming JWT_ISSUER',
    async () => {
      const { code, stderr } = await spawnCli(['subgraphs/documents/main.ts'], {}).exited;
      expect(code).toBe(1);
      expect(stderr).toMatch(/^ {2}JWT_ISSUER: required/m);
    },
    cliRunBoundMs,
  );
});

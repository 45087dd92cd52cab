import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevSigningKey } from '../../server/auth/dev-keys.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type DocumentsApp, startDocumentsApp } from '../../subgraphs/documents/app.ts';

let dataDir: string;
let app: DocumentsApp;

/** A documents service run on its own, as in a container: METRICS_PORT gives it an operations port. */
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'quarry-operations-port-'));
  const key = await ensureDevSigningKey(dataDir);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    JWT_JWKS_FILE: key.jwksPath,
    JWT_ISSUER: DEV_ISSUER,
    JWT_AUDIENCE: DEV_AUDIENCE,
    DOCUMENTS_PORT: '0',
    METRICS_PORT: '0',
  });
  app = await startDocumentsApp({ config, logger: createLogger({ level: 'silent' }) });
});

afterAll(async () => {
  await app?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

it('serves /metrics only on METRICS_PORT, never to clients, and the health routes on both', async () => {
  const client = new URL(app.url).origin;
  const operations = app.operationsUrl as string;
  expect(operations).toBeDefined();
  expect(new URL(operations).port).not.toBe(new URL(app.url).port);
  expect((await fetch(`${client}/metrics`)).status).toBe(404);
  const metrics = await fetch(`${operations}/metrics`);
  expect(metrics.status).toBe(200);
  expect(await metrics.text()).toContain('quarry_graphql_requests_total');
  for (const origin of [client, operations]) {
    expect((await fetch(`${origin}/health/live`)).status).toBe(200);
    expect((await fetch(`${origin}/health/ready`)).status).toBe(200);
  }
});

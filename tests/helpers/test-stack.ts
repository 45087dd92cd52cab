import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import { type RunningStack, type StackOptions, startStack } from '../../cli/stack.ts';
import {
  DEV_AUDIENCE,
  DEV_ISSUER,
  type DevSigningKey,
  type DevTokenOptions,
  ensureDevSigningKey,
  mintDevToken,
} from '../../server/auth/dev-keys.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { productionBackendEnvironment } from './backends.ts';

export interface GraphQLResponse<TData = Record<string, unknown>> {
  status: number;
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface TestStack extends RunningStack {
  dataDir: string;
  devKey: DevSigningKey;
  token(tenantId: string, options?: Omit<DevTokenOptions, 'tenantId'>): Promise<string>;
  /** POSTs an operation to the gateway (or `url`) with the given bearer token. */
  graphql<TData = Record<string, unknown>>(
    query: string,
    options?: { variables?: Record<string, unknown>; token?: string | null; url?: string },
  ): Promise<GraphQLResponse<TData>>;
  /** Runs the indexer until the outbox is empty, so tests need not sleep. */
  settle(): Promise<void>;
}

export async function postGraphQL<TData>(
  url: string,
  body: unknown,
  token: string | null | undefined,
): Promise<GraphQLResponse<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const payload = (await response.json()) as Omit<GraphQLResponse<TData>, 'status'>;
  return { status: response.status, ...payload };
}

/** A whole Quarry on loopback port 0 with a throwaway DATA_DIR and its own signing key. */
export async function startTestStack(
  options: {
    env?: Record<string, string | undefined>;
    /** Where log lines go (at level info); default nowhere. */
    logDestination?: DestinationStream;
    /** Pre-fill the explorer's headers editor with a token of this tenant, as `npm start` does. */
    explorerTenant?: string;
  } & Omit<StackOptions, 'config' | 'logger'> = {},
): Promise<TestStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'quarry-test-'));
  const devKey = await ensureDevSigningKey(dataDir);
  const backends = productionBackendEnvironment();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    JWT_JWKS_FILE: devKey.jwksPath,
    JWT_ISSUER: DEV_ISSUER,
    JWT_AUDIENCE: DEV_AUDIENCE,
    PORT: '0',
    DOCUMENTS_PORT: '0',
    SEARCH_PORT: '0',
    INDEXER_PORT: '0',
    INDEXER_POLL_MS: '20',
    // Two search worker processes rather than four: every stack starts its own, and the suite starts many.
    SEARCH_WORKERS: '2',
    ...backends.env,
    ...options.env,
  });
  const demoToken = options.explorerTenant
    ? await mintDevToken(devKey, { tenantId: options.explorerTenant })
    : undefined;
  const stack = await startStack({
    ...options,
    ...(demoToken ? { explorer: { demoToken } } : {}),
    config,
    logger: options.logDestination
      ? createLogger({ level: 'info', destination: options.logDestination })
      : createLogger({ level: 'silent' }),
  });
  return {
    ...stack,
    dataDir,
    devKey,
    token: (tenantId, tokenOptions) => mintDevToken(devKey, { tenantId, ...tokenOptions }),
    graphql: (query, { variables, token, url } = {}) =>
      postGraphQL(url ?? stack.gatewayUrl, { query, variables }, token),
    async settle() {
      await stack.indexer.drain();
    },
    async stop() {
      await stack.stop();
      await backends.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEV_AUDIENCE,
  DEV_ISSUER,
  type DevTokenOptions,
  ensureDevSigningKey,
  mintDevToken,
} from '../../server/auth/dev-keys.ts';
import { productionBackendEnvironment } from '../helpers/backends.ts';
import { freePort, startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { killAllOnExit, type ServiceProcess, startServiceProcess } from '../helpers/service-process.ts';
import type { BackendFaultMessage } from './service.ts';

/** The services the checker runs, each as its own process, as in production. */
export type ServiceName = 'documents' | 'search' | 'indexer' | 'gateway-a' | 'gateway-b';

/** The production entry files, and the checker's own for the two services it injects faults into. */
const entryFiles: Record<ServiceName, string[]> = {
  documents: ['tests/consistency/service.ts', 'documents'],
  search: ['subgraphs/search/main.ts'],
  indexer: ['tests/consistency/service.ts', 'indexer'],
  'gateway-a': ['gateway/main.ts'],
  'gateway-b': ['gateway/main.ts'],
};

export interface Cluster {
  redis: TestRedis;
  gatewayUrls: string[];
  /** The search subgraph's origin, for its health routes. */
  searchOrigin: string;
  token(tenantId: string, options?: Omit<DevTokenOptions, 'tenantId'>): Promise<string>;
  /** The running process of a service, for instance to read its memory. */
  process(service: ServiceName): ServiceProcess | undefined;
  /** Switches the documents store's fault (see tests/consistency/service.ts); a restart clears it. */
  setDocumentsFault(message: BackendFaultMessage): void;
  /** SIGKILL, then the same service again on the same port. */
  restart(service: ServiceName, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Two gateway replicas, both subgraphs, the indexer and a real redis-server,
 * each a child process on loopback ports picked free, sharing one DATA_DIR
 * (the embedded backends), or the MongoDB and Elasticsearch of
 * MONGO_URL / ELASTICSEARCH_URL. Every process runs the production service
 * with the production defaults; only ports, paths and the signing key are
 * set, and whatever `env` adds for every process. The documents store and
 * the indexer's index get the checker's seams (tests/consistency/service.ts).
 */
export async function startCluster(
  options: {
    env?: Record<string, string>;
    /** How long the embedded index keeps a write invisible, as Elasticsearch's refresh interval; default 0, none. */
    refreshIntervalMs?: number;
  } = {},
): Promise<Cluster> {
  const dataDir = await mkdtemp(join(tmpdir(), 'quarry-consistency-'));
  const devKey = await ensureDevSigningKey(dataDir);
  const backends = productionBackendEnvironment();
  const redis = await startTestRedis();
  const ports = Object.fromEntries(
    await Promise.all(Object.keys(entryFiles).map(async (name) => [name, await freePort()])),
  ) as Record<ServiceName, number>;
  const indexerPort = await freePort();
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    // Production settings otherwise; 'production' would also require a remote JWKS for the tokens.
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    JWT_JWKS_FILE: devKey.jwksPath,
    JWT_ISSUER: DEV_ISSUER,
    JWT_AUDIENCE: DEV_AUDIENCE,
    REDIS_URL: redis.url,
    DOCUMENTS_PORT: String(ports.documents),
    SEARCH_PORT: String(ports.search),
    INDEXER_PORT: String(indexerPort),
    DOCUMENTS_URL: `http://127.0.0.1:${ports.documents}/graphql`,
    SEARCH_URL: `http://127.0.0.1:${ports.search}/graphql`,
    // On, so that search pages' documents come through it and the checker holds it to the guarantees.
    ENTITY_CACHE_TTL_SECONDS: '60',
    ...backends.env,
    ...options.env,
  };
  const healthPort = (service: ServiceName) => (service === 'indexer' ? indexerPort : ports[service]);
  const children = new Map<ServiceName, ServiceProcess>();
  // A test that times out, or a run interrupted, never leaves its processes behind.
  const keepNothingOnExit = killAllOnExit(
    () => [...children.values()].map((service) => service.child),
    () => void redis.kill(),
  );

  async function start(service: ServiceName) {
    const env = service.startsWith('gateway') ? { ...base, PORT: String(ports[service]) } : base;
    children.set(
      service,
      await startServiceProcess({
        name: service,
        entry: entryFiles[service][0] ?? '',
        args: [
          ...entryFiles[service].slice(1),
          ...(service === 'indexer' ? ['--refresh-ms', String(options.refreshIntervalMs ?? 0)] : []),
        ],
        env,
        healthUrl: `http://127.0.0.1:${healthPort(service)}/health/live`,
      }),
    );
  }

  async function kill(service: ServiceName, signal: 'SIGKILL' | 'SIGTERM') {
    const child = children.get(service);
    children.delete(service);
    await child?.kill(signal);
  }

  const stopAll = async () => {
    keepNothingOnExit();
    await Promise.all([...children.keys()].map((service) => kill(service, 'SIGKILL')));
    await redis.stop();
    await backends.drop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    await Promise.all((Object.keys(entryFiles) as ServiceName[]).map(start));
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    redis,
    gatewayUrls: [ports['gateway-a'], ports['gateway-b']].map((port) => `http://127.0.0.1:${port}/graphql`),
    searchOrigin: `http://127.0.0.1:${ports.search}`,
    token: (tenantId, options) => mintDevToken(devKey, { ...options, tenantId }),
    process: (service) => children.get(service),
    setDocumentsFault(message) {
      const documents = children.get('documents')?.child;
      // A message to a process that is exiting is lost, as the fault would be with it.
      if (documents?.connected) documents.send(message, () => {});
    },
    async restart(service, signal) {
      await kill(service, signal);
      await start(service);
    },
    stop: stopAll,
  };
}

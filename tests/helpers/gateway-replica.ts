import { startGatewayApp } from '../../gateway/app.ts';
import type { RunningGateway } from '../../gateway/server.ts';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../server/auth/dev-keys.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import type { TestStack } from './test-stack.ts';

/**
 * Another gateway replica in front of the stack's subgraphs, trusting the
 * stack's signing key, on port 0. `env` gives it the shared Redis
 * (`REDIS_URL`) and anything that makes it a different deployment.
 */
export function startGatewayReplica(stack: TestStack, env: Record<string, string>): Promise<RunningGateway> {
  return startGatewayApp({
    config: loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: stack.dataDir,
      JWT_JWKS_FILE: stack.devKey.jwksPath,
      JWT_ISSUER: DEV_ISSUER,
      JWT_AUDIENCE: DEV_AUDIENCE,
      PORT: '0',
      ...env,
    }),
    logger: createLogger({ level: 'silent' }),
    subgraphUrls: { documents: stack.documentsUrl, search: stack.searchUrl },
  });
}

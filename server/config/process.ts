import { resolve } from 'node:path';
import { z } from 'zod';
import { defineConcern } from './concern.ts';

/** What every process reads: environment, logging, where it listens and keeps data, and its listener's TLS. */
export const processConcern = defineConcern({
  shape: {
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATA_DIR: z.string().min(1).default('./data'),
    TLS_CERT: z.string().min(1).optional(),
    TLS_KEY: z.string().min(1).optional(),
    SUBGRAPH_CLIENT_CA: z.string().min(1).optional(),
  },
  check(env, context) {
    if (Boolean(env.TLS_CERT) !== Boolean(env.TLS_KEY)) {
      context.addIssue({
        code: 'custom',
        path: [env.TLS_CERT ? 'TLS_KEY' : 'TLS_CERT'],
        message: 'TLS_CERT and TLS_KEY go together: set both or neither',
      });
    }
    if (env.SUBGRAPH_CLIENT_CA && !env.TLS_CERT) {
      context.addIssue({
        code: 'custom',
        path: ['SUBGRAPH_CLIENT_CA'],
        message: 'requiring client certificates needs TLS: set TLS_CERT and TLS_KEY too',
      });
    }
  },
  section(env, production) {
    const dataDir = resolve(env.DATA_DIR);
    return {
      production,
      logLevel: env.LOG_LEVEL,
      host: env.HOST,
      dataDir,
      embeddedDatabasePath: resolve(dataDir, 'quarry.db'),
      /** Every service's listener: HTTPS when set (the one-process dev stack shares it). */
      tls: env.TLS_CERT && env.TLS_KEY ? { certPath: env.TLS_CERT, keyPath: env.TLS_KEY } : undefined,
      /** Subgraphs require a client certificate signed by this CA when set (mTLS from the gateway). */
      subgraphClientCaPath: env.SUBGRAPH_CLIENT_CA,
    };
  },
});

export type ProcessConfig = ReturnType<typeof processConcern.section>;

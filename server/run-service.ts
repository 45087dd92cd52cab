import { loadConfig, type QuarryConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { startTracing } from './observability/tracing.ts';
import { runMain } from './process.ts';

export interface ServiceApp {
  url: string;
  stop(): Promise<void>;
}

export type StartApp = (dependencies: { config: QuarryConfig; logger: Logger }) => Promise<ServiceApp>;

/**
 * One service as its own process: configuration, tracing, then the service,
 * whose modules are imported only once tracing is on, so the instrumentations
 * see graphql, http, undici and the drivers load. Signals drain it (`runMain`).
 */
export function runService(options: {
  name: 'gateway' | 'documents' | 'search' | 'indexer';
  /** Imports the service's app, and returns its start function. */
  importApp(): Promise<StartApp>;
  /** The log line once it listens. */
  listening: string;
  /** Anything the process says once started, such as a warning about its configuration. */
  started?(config: QuarryConfig, logger: Logger): void;
}) {
  runMain(async () => {
    const config = loadConfig();
    const tracing = await startTracing({ serviceName: options.name, ...config.tracing });
    const { createLogger } = await import('./logger.ts');
    const startApp = await options.importApp();
    const logger = createLogger({ level: config.logLevel, service: options.name });
    const app = await startApp({ config, logger });
    logger.info({ url: app.url }, options.listening);
    options.started?.(config, logger);
    return async () => {
      await app.stop();
      await tracing.shutdown();
    };
  });
}

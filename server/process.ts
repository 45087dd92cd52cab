import { ConfigError } from './config.ts';

/**
 * Runs a service's `main`: configuration errors print their message (naming
 * the bad variable) and exit 1; SIGTERM and SIGINT drain in-flight requests
 * through the returned `stop`, then exit.
 */
export function runMain(main: () => Promise<() => Promise<void>>) {
  main().then(
    (stop) => {
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.error(`${signal} received, draining`);
        stop().then(
          () => process.exit(0),
          (error: unknown) => {
            console.error(error);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    },
    (error: unknown) => {
      console.error(error instanceof ConfigError ? error.message : error);
      process.exit(1);
    },
  );
}

import { expectedFailureMessage } from './startup-error.ts';

/**
 * Runs a service's `main`: an expected failure (configuration, a port in
 * use, an unreachable backend, a missing file) prints one line and exits 1; SIGTERM and SIGINT drain in-flight requests
 * through the returned `stop`, then exit, and a second signal exits at once.
 * The signal handlers are installed before `main` runs, so a service that
 * has said it is ready always drains; a signal during startup stops the
 * service once it has started.
 */
export function runMain(main: () => Promise<() => Promise<void>>) {
  let stopping = false;
  let started: Promise<() => Promise<void>>;
  const shutdown = (signal: string) => {
    if (stopping) {
      // The operator's way out of a drain that hangs (a Ctrl-C pressed twice), short of SIGKILL.
      console.error(`${signal} received again, exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    console.error(`${signal} received, draining`);
    started
      .then((stop) => stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  started = main().catch((error: unknown) => {
    console.error(expectedFailureMessage(error) ?? error);
    process.exit(1);
  });
}

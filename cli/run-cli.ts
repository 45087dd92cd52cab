import { expectedFailureMessage } from '../server/startup-error.ts';

/**
 * Runs a one-shot command: an expected failure (configuration, an unreachable
 * backend, a missing file) prints one line; anything else in full.
 */
export async function runCli(main: () => Promise<void>) {
  try {
    await main();
  } catch (error) {
    console.error(expectedFailureMessage(error) ?? error);
    process.exitCode = 1;
  }
}

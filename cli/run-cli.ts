import { ConfigError } from '../server/config.ts';

/** Runs a one-shot command: a configuration error prints only its message (naming the variable); anything else in full. */
export async function runCli(main: () => Promise<void>) {
  try {
    await main();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exitCode = 1;
  }
}

import { ConfigError } from './config.ts';

/**
 * A start that failed for a reason the operator can fix (a port in use, a
 * backend that does not answer): its message is the whole report, printed
 * as one line without a stack.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** A connection string without its credentials, path or options: `mongodb://user:pw@a:1,b:2/db` → `mongodb://a:1,b:2`. */
export function redactedAddress(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(?:[^@/?#]*@)?([^/?#]*)/i.exec(url);
  return match ? `${match[1]}${match[2]}` : '(unparseable address)';
}

/** Turns "address in use" from a listening server into the variable that sets its port. */
export async function namingPortVariable<T>(variable: string, starting: Promise<T>): Promise<T> {
  try {
    return await starting;
  } catch (error) {
    const { code, address, port } = error as NodeJS.ErrnoException & { address?: string; port?: number };
    if (code !== 'EADDRINUSE') throw error;
    throw new StartupError(
      `Port ${port} on ${address} is already in use: stop the process listening there, or set ${variable} to a free port`,
    );
  }
}

/**
 * The one line to print for an expected failure (configuration, startup,
 * a file that does not exist), or undefined for anything else: a bug,
 * printed in full with its stack.
 */
export function expectedFailureMessage(error: unknown): string | undefined {
  if (error instanceof ConfigError || error instanceof StartupError) return error.message;
  const { code, path } = error as NodeJS.ErrnoException;
  if (code === 'ENOENT' && path) return `File not found: ${path}`;
  return undefined;
}

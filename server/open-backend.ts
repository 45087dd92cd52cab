import { redactedAddress, StartupError } from './startup-error.ts';

/** A production backend as an operator knows it, and the client's errors that mean it did not answer. */
export interface Backend {
  /** `MongoDB`, `Elasticsearch`. */
  name: string;
  /** The variable that holds `url`, so the message says what to check. */
  variable: string;
  url: string;
  unreachable: readonly (abstract new (...args: never[]) => Error)[];
}

/**
 * Sets up an adapter on a client just built for it, and returns it with a
 * `close` that releases both. When setting up fails, the client is closed, so
 * no socket or timer outlives the failed start, and a backend that did not
 * answer becomes a one-line StartupError naming its variable.
 */
export async function openOnClient<Adapter extends { close(): Promise<void> }>(
  client: { close(): Promise<void> },
  backend: Backend,
  setUp: () => Promise<Adapter>,
): Promise<{ adapter: Adapter; close(): Promise<void> }> {
  try {
    const adapter = await setUp();
    return {
      adapter,
      async close() {
        await adapter.close();
        await client.close();
      },
    };
  } catch (error) {
    await client.close();
    if (backend.unreachable.some((type) => error instanceof type))
      throw new StartupError(
        `${backend.name} at ${redactedAddress(backend.url)} (${backend.variable}) did not answer: ${(error as Error).message}`,
      );
    throw error;
  }
}

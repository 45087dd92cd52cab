import { describe, expect, it } from 'vitest';
import { openOnClient } from './open-backend.ts';
import { StartupError } from './startup-error.ts';

class NoAnswer extends Error {}

/** A client and an adapter that record the order they are closed in. */
function recorded() {
  const closed: string[] = [];
  const client = { close: async () => void closed.push('client') };
  const adapter = { close: async () => void closed.push('adapter') };
  return { closed, client, adapter };
}

const backend = { name: 'MongoDB', variable: 'MONGO_URL', url: 'mongodb://user:secret@db:27017/quarry' };

describe('openOnClient', () => {
  it('gives the adapter and a close that releases it, then its client', async () => {
    const { closed, client, adapter } = recorded();
    const opened = await openOnClient(client, { ...backend, unreachable: [NoAnswer] }, async () => adapter);
    expect(opened.adapter).toBe(adapter);
    expect(closed).toEqual([]);
    await opened.close();
    expect(closed).toEqual(['adapter', 'client']);
  });

  it('closes the client of a failed set-up, and names the variable of a backend that did not answer', async () => {
    const { closed, client } = recorded();
    const opening = openOnClient(client, { ...backend, unreachable: [NoAnswer] }, async () => {
      throw new NoAnswer('connection refused');
    });
    const error = await opening.catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(StartupError);
    // The credentials and database in the URL stay out of the message.
    expect((error as StartupError).message).toBe(
      'MongoDB at mongodb://db:27017 (MONGO_URL) did not answer: connection refused',
    );
    expect(closed).toEqual(['client']);
  });

  it('passes any other failure on as it is, after closing the client', async () => {
    const { closed, client } = recorded();
    const failure = new Error('not authorized');
    const opening = openOnClient(client, { ...backend, unreachable: [NoAnswer] }, async () => {
      throw failure;
    });
    await expect(opening).rejects.toBe(failure);
    expect(closed).toEqual(['client']);
  });
});

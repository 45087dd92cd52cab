import { createServer, type Server } from 'node:net';
import { expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.ts';
import { startTestStack } from '../helpers/test-stack.ts';

const listening = (server: Server, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

it('stops the services it already started when a later one cannot start, leaving their ports free', async () => {
  const occupier = createServer();
  await listening(occupier, 0);
  const gatewayPort = (occupier.address() as { port: number }).port;
  const ports = [await freePort(), await freePort(), await freePort()];
  try {
    await expect(
      startTestStack({
        env: {
          PORT: String(gatewayPort),
          DOCUMENTS_PORT: String(ports[0]),
          SEARCH_PORT: String(ports[1]),
          INDEXER_PORT: String(ports[2]),
        },
      }),
    ).rejects.toThrow(/already in use/);
    for (const port of ports) {
      const probe = createServer();
      await listening(probe, port);
      await new Promise((resolve) => probe.close(resolve));
    }
  } finally {
    occupier.close();
  }
});

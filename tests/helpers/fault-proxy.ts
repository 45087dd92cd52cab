import { createServer, type Server, Socket } from 'node:net';

/**
 * - pass: forward both ways.
 * - delay: forward both ways, each chunk held back `delayMs`.
 * - blackhole: accept, read, never answer.
 * - reset: accept, then reset the connection (RST).
 * - refuse: nothing listens; connecting fails with ECONNREFUSED.
 */
export type FaultMode = 'pass' | 'delay' | 'blackhole' | 'reset' | 'refuse';

export interface FaultProxy {
  port: number;
  /** The proxy's address with the target's path, for instance `http://127.0.0.1:5123/graphql`. */
  url(targetUrl: string): string;
  mode(): FaultMode;
  /** Connections accepted so far, whatever the mode did with them. */
  accepted(): number;
  /** Switches mode; open connections are cut so pooled clients meet the new mode at once. */
  set(mode: FaultMode, options?: { delayMs?: number }): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy on loopback in front of one target (Redis, a subgraph), whose faults a test switches. */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let current: FaultMode = 'pass';
  let delayMs = 0;
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  function forward(from: Socket, to: Socket) {
    let chain = Promise.resolve();
    from.on('data', (chunk) => {
      if (delayMs === 0) {
        to.write(chunk);
        return;
      }
      from.pause();
      chain = chain
        .then(() => new Promise((resolve) => setTimeout(resolve, delayMs)))
        .then(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        });
    });
  }

  let accepted = 0;
  function onConnection(client: Socket) {
    accepted++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (current === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (current === 'blackhole') {
      client.resume();
      return;
    }
    const upstream = new Socket();
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.connect(target.port, target.host);
    forward(client, upstream);
    forward(upstream, client);
  }

  async function listen() {
    server = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address && typeof address !== 'string') port = address.port;
  }

  async function unlisten() {
    const closing = server;
    server = undefined;
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  }

  function cutAll() {
    for (const socket of sockets) socket.resetAndDestroy();
    sockets.clear();
  }

  await listen();
  return {
    port,
    url: (targetUrl) => {
      const url = new URL(targetUrl);
      url.host = `127.0.0.1:${port}`;
      return url.toString();
    },
    mode: () => current,
    accepted: () => accepted,
    async set(mode, options = {}) {
      current = mode;
      delayMs = mode === 'delay' ? (options.delayMs ?? 1000) : 0;
      cutAll();
      if (mode === 'refuse') await unlisten();
      else if (!server) await listen();
    },
    async close() {
      cutAll();
      await unlisten();
    },
  };
}

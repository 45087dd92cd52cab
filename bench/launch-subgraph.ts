/**
 * Bench-only launcher for one subgraph (`documents` or `search`), run as a
 * child process with the same environment as `subgraphs/<name>/main.ts`. It
 * wires the service through the same `start*App` function, but wraps the port
 * in a counter so the bench can report backend calls per request. The parent
 * asks for the counts over the IPC channel (`{ type: 'counts' }`).
 */
import { Server } from 'node:http';
import { loadDocumentsConfig, loadSearchConfig } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import { runMain } from '../server/process.ts';
import { startDocumentsApp } from '../subgraphs/documents/app.ts';
import { startSearchApp } from '../subgraphs/search/app.ts';

const counts: Record<string, number> = {};

function counted<T extends object>(target: T): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        counts[property] = (counts[property] ?? 0) + 1;
        return value.apply(object, args);
      };
    },
  });
}

const which = process.argv[2];
if (which !== 'documents' && which !== 'search')
  throw new Error(`usage: launch-subgraph.ts documents|search`);

// Every HTTP request the subgraph serves, so the bench can tell how many reads a gateway's cache answered.
const emit = Server.prototype.emit;
Server.prototype.emit = function countedEmit(this: Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'request') counts[`${which}HttpRequests`] = (counts[`${which}HttpRequests`] ?? 0) + 1;
  return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
};

/** The subgraph from its own configuration loader, as its main.ts starts it, with its port counted. */
async function startCountedSubgraph() {
  if (which === 'documents') {
    const config = loadDocumentsConfig();
    const logger = createLogger({ level: config.logLevel, service: which });
    return startDocumentsApp({ config, logger, decorateStore: counted });
  }
  const config = loadSearchConfig();
  const logger = createLogger({ level: config.logLevel, service: which });
  return startSearchApp({ config, logger, decorateIndex: counted });
}

runMain(async () => {
  const app = await startCountedSubgraph();
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'counts') process.send?.({ type: 'counts', counts: { ...counts } });
  });
  process.send?.({ type: 'ready', url: app.url });
  return async () => {
    process.removeAllListeners('message');
    await app.stop();
  };
});

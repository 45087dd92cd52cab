import type { WorkerApi } from './worker-pool.ts';
import type { WorkerReply, WorkerRequest } from './worker-protocol.ts';

/**
 * The worker side of `createWorkerPool`: builds the handlers from the pool's
 * input, then answers calls one at a time. A worker whose pool goes away
 * (its parent exits, even killed) exits too, so none outlives it.
 */
export function serveWorkerCalls<Input>(createHandlers: (input: Input) => WorkerApi): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('serveWorkerCalls runs in a process started by createWorkerPool');
  let handlers: WorkerApi | undefined;
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (request: WorkerRequest) => {
    if ('input' in request) {
      handlers = createHandlers(request.input as Input);
      if (process.connected) send({ ready: true } satisfies WorkerReply, undefined, undefined, () => {});
      return;
    }
    let reply: WorkerReply;
    try {
      const handler = handlers?.[request.method];
      if (!handler) throw new Error(`no handler for ${request.method}`);
      reply = { id: request.id, value: await handler(...request.args) };
    } catch (error) {
      const { name = 'Error', message = String(error) } = error instanceof Error ? error : {};
      reply = { id: request.id, error: { name, message } };
    }
    // A pool that went away mid-call has nobody to answer; 'disconnect' ends this process.
    if (process.connected) send(reply, undefined, undefined, () => {});
  });
}

/** What a pool sends a worker: its input once, first, then one call at a time. */
export type WorkerRequest = { input: unknown } | { id: number; method: string; args: unknown[] };

/** A worker's word that it is ready for calls, or its answer to call `id`. Errors travel as name and message. */
export type WorkerReply =
  | { ready: true }
  | { id: number; value: unknown }
  | { id: number; error: { name: string; message: string } };

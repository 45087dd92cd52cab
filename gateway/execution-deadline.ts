import type { GatewayExecutionResult, GatewayInterface } from '@apollo/server-gateway-interface';
import { requestError } from '../server/errors.ts';
import { wrapGatewayExecutor } from './gateway-executor.ts';

export interface ExecutionDeadlineOptions {
  /** Longest one operation may execute across all its subgraph calls. Default 15000 ms (EXECUTION_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * Bounds a whole operation's execution at the gateway: a query plan of
 * several sequential fetches could otherwise hold a client for a multiple of
 * the per-call subgraph deadline. When the deadline passes the client gets
 * GATEWAY_TIMEOUT (504) at once; fetches already in flight end by their own
 * per-call deadline (SUBGRAPH_TIMEOUT_MS) and their results are dropped.
 *
 * It wraps the gateway's executor (`wrapGatewayExecutor`) rather than being
 * an Apollo plugin because plugins can observe execution but not cut it short.
 */
export function withExecutionDeadline(
  gateway: GatewayInterface,
  { timeoutMs = 15_000 }: ExecutionDeadlineOptions = {},
): GatewayInterface {
  return wrapGatewayExecutor(gateway, (executor) => async (requestContext) => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<GatewayExecutionResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ errors: [requestError('GATEWAY_TIMEOUT', 'The operation took too long')] }),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([executor(requestContext), deadline]);
    } finally {
      clearTimeout(timer);
    }
  });
}

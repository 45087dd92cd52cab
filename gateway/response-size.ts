import type { GatewayInterface } from '@apollo/server-gateway-interface';
import type { GraphQLError } from 'graphql';
import { requestError } from '../server/errors.ts';
import { responseTooLargeMessage } from '../server/http/http-server.ts';
import { wrapGatewayExecutor } from './gateway-executor.ts';

export function responseTooLarge(): GraphQLError {
  return requestError('RESPONSE_TOO_LARGE', responseTooLargeMessage);
}

export function isResponseTooLarge(error: unknown): boolean {
  return (error as { extensions?: { code?: unknown } } | null)?.extensions?.code === 'RESPONSE_TOO_LARGE';
}

/**
 * Reads a subgraph's answer, giving up (and dropping the connection's rest)
 * once it passes `maxBytes`, so the gateway never buffers more than that of
 * any one answer however much the subgraph sends.
 */
export async function readAtMost(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  declaredLength: string | string[] | undefined,
  maxBytes: number,
): Promise<string> {
  if (Number(declaredLength ?? 0) > maxBytes) {
    body.destroy();
    throw responseTooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw responseTooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A response that would pass MAX_RESPONSE_BYTES is refused whole, with
 * RESPONSE_TOO_LARGE and no data, rather than sent as partial data: a subgraph
 * that refused to send its part (its own cap), or the gateway that stopped
 * reading it, leaves an error on that part, and this turns it into the
 * answer. A refused response has errors, so the response cache never stores it.
 */
export function withResponseSizeLimit(gateway: GatewayInterface): GatewayInterface {
  return wrapGatewayExecutor(gateway, (executor) => async (requestContext) => {
    const result = await executor(requestContext);
    return result.errors?.some(isResponseTooLarge) ? { errors: [responseTooLarge()] } : result;
  });
}

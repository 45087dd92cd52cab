import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';

/**
 * The gateway with its executor wrapped: what plugins cannot do (cut
 * execution short, replace its result) is done here.
 */
export function wrapGatewayExecutor(
  gateway: GatewayInterface,
  wrap: (executor: GatewayExecutor) => GatewayExecutor,
): GatewayInterface {
  return {
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    stop: () => gateway.stop(),
    async load(options) {
      const result = await gateway.load(options);
      return { ...result, executor: result.executor && wrap(result.executor) };
    },
  };
}

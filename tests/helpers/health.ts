import { expect } from 'vitest';
import type { TestStack } from './test-stack.ts';

/** After an attack: the gateway still answers its liveness probe and serves an ordinary query. */
export async function expectStillHealthy(stack: TestStack) {
  const live = await fetch(new URL('/health/live', stack.gatewayUrl));
  expect(live.status).toBe(200);
  const token = await stack.token('health-probe', { scopes: ['documents:read'] });
  const result = await stack.graphql('{ suggest(prefix: "a") documents(ids: ["x"]) { id } }', { token });
  expect(result.status).toBe(200);
  expect(result.errors).toBeUndefined();
  expect(result.data).toEqual({ suggest: [], documents: [null] });
}

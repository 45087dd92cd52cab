import type { Principal } from '../server/auth/jwt-verifier.ts';

/** Per-request state at the gateway; created only for a verified token. */
export interface GatewayContext {
  principal: Principal;
}

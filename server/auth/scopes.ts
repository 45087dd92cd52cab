import type { OperationTypeNode } from 'graphql';
import { requestError } from '../errors.ts';
import type { Principal } from './jwt-verifier.ts';

export const READ_SCOPE = 'documents:read';
export const WRITE_SCOPE = 'documents:write';

/** Queries need read access, mutations need write access; subscriptions are not served. */
export function assertOperationAllowed(
  principal: Principal,
  operation: OperationTypeNode | 'query' | 'mutation' | 'subscription',
) {
  const needed = operation === 'mutation' ? WRITE_SCOPE : READ_SCOPE;
  if (!principal.scopes.has(needed)) {
    throw requestError('FORBIDDEN', `This operation needs the "${needed}" scope`);
  }
}

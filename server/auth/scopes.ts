import type { OperationTypeNode } from 'graphql';
import { requestError } from '../errors.ts';
import type { Principal } from './jwt-verifier.ts';

export const READ_SCOPE = 'documents:read';
export const WRITE_SCOPE = 'documents:write';
/** Reading the tenant's usage and quota. */
export const TENANT_ADMIN_SCOPE = 'tenant:admin';
/** Reading and changing the tenant's search settings (synonyms). */
export const SEARCH_ADMIN_SCOPE = 'search:admin';
/** Erasing every trace of the tenant: its own scope, never implied by another. */
export const TENANT_ERASE_SCOPE = 'tenant:erase';

/** Every scope Quarry checks, as a provider's role or scope names may be mapped to them (`JWT_ROLE_SCOPES`). */
export const QUARRY_SCOPES = [
  READ_SCOPE,
  WRITE_SCOPE,
  TENANT_ADMIN_SCOPE,
  SEARCH_ADMIN_SCOPE,
  TENANT_ERASE_SCOPE,
] as const;

type OperationType = OperationTypeNode | 'query' | 'mutation' | 'subscription';

const scopeFor = (operation: OperationType) => (operation === 'mutation' ? WRITE_SCOPE : READ_SCOPE);

export function allowsOperation(principal: Principal, operation: OperationType): boolean {
  return principal.scopes.has(scopeFor(operation));
}

/** The refusal of an operation the caller's scopes do not cover. */
export function scopeRefusal(operation: OperationType) {
  return requestError('FORBIDDEN', `This operation needs the "${scopeFor(operation)}" scope`);
}

/** Queries need read access, mutations need write access; subscriptions are not served. */
export function assertOperationAllowed(principal: Principal, operation: OperationType) {
  if (!allowsOperation(principal, operation)) throw scopeRefusal(operation);
}

/**
 * A token cannot be checked because its identity provider cannot be reached:
 * no usable keys (none fetched yet, or past stale-if-error), or a `kid` the
 * cached keys lack while refetching fails. Not the token's fault, so not a 401.
 */
export class IdentityProviderUnavailableError extends Error {
  override name = 'IdentityProviderUnavailableError';
  readonly isIdentityProviderUnavailable = true;
}

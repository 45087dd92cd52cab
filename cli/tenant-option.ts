import { InvalidArgumentError } from 'commander';
import { tenantIdPattern } from '../server/auth/jwt-verifier.ts';

/**
 * Parses `--tenant`: only an id a token can carry. Any other would mint a
 * token every service refuses, or write documents no request can reach
 * (and, with the tenant in it, an Elasticsearch `_id` that may not fit).
 */
export function tenantOption(value: string): string {
  if (!tenantIdPattern.test(value)) {
    throw new InvalidArgumentError(
      'a tenant id is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.',
    );
  }
  return value;
}

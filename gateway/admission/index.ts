import type { PersistedOperationsOptions } from '../plugins/persisted-operations.ts';
import type { AdmissionCheck } from './admission.ts';
import { operationScope } from './operation-scope.ts';
import { partnerPolicy } from './partner-policy.ts';
import { type RateLimitOptions, rateLimit } from './rate-limit.ts';

export { type AdmissionCheck, type AdmissionVerdict, admit, useAdmission } from './admission.ts';
export { type RateLimitOptions, takeToken } from './rate-limit.ts';

/**
 * The gateway's admission: whether this caller may run this request, in
 * order. Both paths run this one list: Apollo's (`useAdmission`) and the
 * response cache's hits (`admit`). The token is verified before it, when the
 * context is built. What depends only on the request (limits, validation,
 * which operation to run) stays in Apollo's pipeline: the response cache's
 * key holds exactly that, so a hit has already passed it.
 */
export function gatewayAdmission(options: {
  persistedOperations: PersistedOperationsOptions;
  rateLimit: RateLimitOptions;
}): AdmissionCheck[] {
  return [partnerPolicy(options.persistedOperations), operationScope, rateLimit(options.rateLimit)];
}

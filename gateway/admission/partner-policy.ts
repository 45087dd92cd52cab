import { type PersistedOperationsOptions, partnerRefusal } from '../plugins/persisted-operations.ts';
import type { AdmissionCheck } from './admission.ts';

/** Partners run persisted operations only: a manifest id, no query text. Refused before anything is parsed. */
export function partnerPolicy(options: PersistedOperationsOptions): AdmissionCheck {
  return {
    name: 'partner-policy',
    stage: 'request',
    refusal: (request) => partnerRefusal(options, request.principal, request),
  };
}

import { allowsOperation, scopeRefusal } from '../../server/auth/scopes.ts';
import type { AdmissionCheck } from './admission.ts';

/** Queries need `documents:read`, mutations `documents:write`; refused before anything is planned. */
export const operationScope: AdmissionCheck = {
  name: 'operation-scope',
  stage: 'operation',
  refusal: ({ principal }, operation) =>
    operation === undefined || allowsOperation(principal, operation) ? undefined : scopeRefusal(operation),
};

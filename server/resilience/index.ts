export { resilienceFromConfig } from './from-config.ts';
export {
  type BreakerState,
  createResilience,
  type DependencyPolicy,
  DependencyUnavailableError,
  isDependencyUnavailable,
  type PerDependency,
  type Resilience,
  type ResilienceOptions,
  type RunOptions,
} from './policy.ts';
export {
  createTenantBulkheads,
  isTenantBusy,
  type TenantBulkheadOptions,
  type TenantBulkheads,
  TenantBusyError,
} from './tenant-bulkheads.ts';

import type { TenantQuota } from './document-store.ts';

export interface QuotaConfig {
  /** For every tier without an override. */
  standard: TenantQuota;
  tiers: Readonly<Record<string, TenantQuota>>;
}

/** The quota of a token's tier: its override when configured, the standard one otherwise. */
export const quotaFor = (config: QuotaConfig, tier: string): TenantQuota =>
  // Own properties only: a tier claim of `constructor` must not find Object.prototype's.
  Object.hasOwn(config.tiers, tier) ? (config.tiers[tier] as TenantQuota) : config.standard;

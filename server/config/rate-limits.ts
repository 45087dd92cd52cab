import { z } from 'zod';
import { defineConcern } from './concern.ts';

/** Request budgets per tenant tier: `standard=20/40,premium=200/400` (refill per second / burst). */
const tierLimits = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, context) => {
      const tiers: Record<string, { perSecond: number; burst: number }> = {};
      for (const item of value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)) {
        const match = /^([\w-]+)=(\d+(?:\.\d+)?)\/(\d+)$/.exec(item);
        if (!match) {
          context.addIssue({ code: 'custom', message: `"${item}" is not tier=perSecond/burst` });
          return z.NEVER;
        }
        const [, name = '', perSecond, burst] = match;
        if (Number(perSecond) <= 0 || Number(burst) < 1) {
          context.addIssue({
            code: 'custom',
            message: `"${item}" needs a refill above 0 and a burst of at least 1`,
          });
          return z.NEVER;
        }
        tiers[name] = { perSecond: Number(perSecond), burst: Number(burst) };
      }
      const { standard } = tiers;
      if (!standard) {
        context.addIssue({
          code: 'custom',
          message: 'needs a "standard" tier, the default for tokens without a tier',
        });
        return z.NEVER;
      }
      return { ...tiers, standard };
    });

/** The tiers a deployment gets when `RATE_LIMIT_TIERS` is unset. */
export const defaultRateLimitTiers = 'standard=50/100,premium=500/1000';

/** The gateway's per-tenant request budgets, and how it limits when Redis is away. */
export const rateLimitConcern = defineConcern({
  shape: {
    RATE_LIMIT_TIERS: tierLimits(defaultRateLimitTiers),
    RATE_LIMIT_FALLBACK_FRACTION: z.coerce.number().gt(0).max(1).default(0.25),
    RATE_LIMIT_LEASE_MS: z.coerce.number().min(0).max(1000).default(10),
    RATE_LIMIT_REFUSAL_HOLD_MS: z.coerce.number().int().min(0).max(1000).default(1000),
    RATE_LIMIT_HELD_REFUSALS: z.coerce.number().int().min(0).default(64),
  },
  section: (env) => ({
    rateLimit: {
      tiers: env.RATE_LIMIT_TIERS,
      fallbackFraction: env.RATE_LIMIT_FALLBACK_FRACTION,
      leaseMs: env.RATE_LIMIT_LEASE_MS,
      refusalHold: { ms: env.RATE_LIMIT_REFUSAL_HOLD_MS, perTenant: env.RATE_LIMIT_HELD_REFUSALS },
    },
  }),
});

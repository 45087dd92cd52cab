import { z } from 'zod';
import { defineConcern } from './concern.ts';

/**
 * A number for every dependency, with overrides by name:
 * `2000,redis=250,subgraph:search=3000`. Becomes a function of the
 * dependency name (see `PerDependency` in server/resilience).
 */
const perDependency = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, context) => {
      const overrides = new Map<string, number>();
      let base: number | undefined;
      for (const item of value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)) {
        const [name, raw = ''] = item.includes('=') ? item.split('=', 2) : [undefined, item];
        // Number('') is 0: `redis=` would silently mean a 0 ms timeout.
        const number = raw.trim() === '' ? Number.NaN : Number(raw);
        if (!Number.isFinite(number) || number < 0) {
          context.addIssue({ code: 'custom', message: `"${item}" is not a non-negative number` });
          return z.NEVER;
        }
        if (name) overrides.set(name.trim(), number);
        else base = number;
      }
      if (base === undefined) {
        context.addIssue({
          code: 'custom',
          message: `"${value}" needs a default value, such as 2000,redis=250`,
        });
        return z.NEVER;
      }
      const fallbackValue = base;
      return (dependency: string) => overrides.get(dependency) ?? fallbackValue;
    });

/** Timeouts, circuit breakers and retries around every dependency a service calls. */
export const resilienceConcern = defineConcern({
  shape: {
    RESILIENCE_TIMEOUT_MS: perDependency('2000,redis=250'),
    BREAKER_FAILURE_THRESHOLD: perDependency('5'),
    BREAKER_HALF_OPEN_AFTER_MS: perDependency('5000,redis=1000'),
    RETRY_MAX_ATTEMPTS: perDependency('3,redis=1'),
    RETRY_INITIAL_DELAY_MS: perDependency('25'),
  },
  section: (env) => ({
    resilience: {
      timeoutMs: env.RESILIENCE_TIMEOUT_MS,
      failureThreshold: env.BREAKER_FAILURE_THRESHOLD,
      halfOpenAfterMs: env.BREAKER_HALF_OPEN_AFTER_MS,
      readAttempts: env.RETRY_MAX_ATTEMPTS,
      retryInitialDelayMs: env.RETRY_INITIAL_DELAY_MS,
    },
  }),
});

export type ResilienceSection = ReturnType<typeof resilienceConcern.section>;

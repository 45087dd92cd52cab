import type { QuarryConfig } from '../config.ts';
import { noOperationalEvents, type OperationalEvents } from '../observability/events.ts';
import { createResilience, type Resilience } from './policy.ts';

/** One breaker registry per service, with the configured per-dependency policy options. */
export function resilienceFromConfig(
  config: Pick<QuarryConfig, 'resilience'>,
  events: OperationalEvents = noOperationalEvents,
): Resilience {
  return createResilience({ ...config.resilience, events });
}

import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { breakerHealth } from '../../server/http/health.ts';
import { createResilience } from '../../server/resilience/policy.ts';

it('lets an unready service become ready again without traffic: the probe makes the breaker’s trial once due', async () => {
  const resilience = createResilience({ failureThreshold: 1, halfOpenAfterMs: 100, readAttempts: 1 });
  const policy = resilience.policy('documents-store');
  let storeUp = false;
  let trials = 0;
  const health = breakerHealth(resilience, 'documents-store', true, async () => {
    trials += 1;
    if (!storeUp) throw new Error('connection refused');
  });
  await policy
    .run(() => Promise.reject(new Error('connection refused')), { idempotent: false, operation: 'x' })
    .catch(() => {});
  expect(policy.state()).toBe('open');

  // Not due yet: the open breaker refuses the trial without calling the store.
  expect((await health.check()).ok).toBe(false);
  expect(trials).toBe(0);
  await sleep(150);
  // Due: one trial, which fails while the store is down.
  expect((await health.check()).ok).toBe(false);
  expect(trials).toBe(1);
  storeUp = true;
  await sleep(150);
  expect(await health.check()).toEqual({ ok: true, detail: { breaker: 'closed' } });
  expect(trials).toBe(2);
  // Closed: readiness costs no call.
  await health.check();
  expect(trials).toBe(2);
});

import { OperationTypeNode } from 'graphql';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../server/auth/jwt-verifier.ts';
import { createMemoryRateLimitStore } from '../../server/rate-limit/memory-rate-limit-store.ts';
import type { AdmissionCheck } from './admission.ts';
import { rateLimit } from './rate-limit.ts';

const holdMs = 1000;

const principal = (tenantId: string): Principal => ({
  tenantId,
  subject: undefined,
  scopes: new Set(),
  clientType: 'first-party',
  clientIds: [],
  tier: 'standard',
  token: 'token',
  expiresAt: Number.POSITIVE_INFINITY,
});

/** One request's admission, and whether it has been answered yet. */
function ask(check: AdmissionCheck, tenantId: string, clientGone?: AbortSignal) {
  if (check.stage !== 'operation') throw new Error('the rate limit is an operation check');
  const answer = { settled: false, code: undefined as unknown };
  const done = Promise.resolve(
    check.refusal({ principal: principal(tenantId), clientGone }, OperationTypeNode.QUERY),
  ).then((refusal) => {
    answer.settled = true;
    answer.code = refusal?.extensions.code;
  });
  return { answer, done };
}

describe('the rate limit holds refusals', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const limited = (perTenant: number) =>
    rateLimit({
      store: createMemoryRateLimitStore(),
      // One request, then a token per 1000 s: every later request is refused.
      tiers: { standard: { perSecond: 0.001, burst: 1 } },
      hold: { ms: holdMs, perTenant },
    });

  it('answers a refusal only after the hold, so a client that ignores retry-after cannot spin the gateway', async () => {
    const check = limited(2);
    const allowed = ask(check, 'flooder');
    await allowed.done;
    expect(allowed.answer).toEqual({ settled: true, code: undefined });

    const refused = ask(check, 'flooder');
    await vi.advanceTimersByTimeAsync(holdMs - 1);
    expect(refused.answer.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await refused.done;
    expect(refused.answer).toEqual({ settled: true, code: 'RATE_LIMITED' });
  });

  it("holds at most the tenant's share at once and answers the rest at once; other tenants have their own", async () => {
    const check = limited(2);
    await ask(check, 'flooder').done;
    await ask(check, 'neighbour').done;
    const held = [ask(check, 'flooder'), ask(check, 'flooder')];
    const overflow = ask(check, 'flooder');
    await overflow.done;
    expect(overflow.answer).toEqual({ settled: true, code: 'RATE_LIMITED' });
    const neighbourRefused = ask(check, 'neighbour');
    await vi.advanceTimersByTimeAsync(0);
    expect([...held, neighbourRefused].map((request) => request.answer.settled)).toEqual([
      false,
      false,
      false,
    ]);

    await vi.advanceTimersByTimeAsync(holdMs);
    await Promise.all([...held, neighbourRefused].map((request) => request.done));
    // The held ones are answered, so the tenant may be held again.
    const heldAgain = ask(check, 'flooder');
    await vi.advanceTimersByTimeAsync(0);
    expect(heldAgain.answer.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(holdMs);
    await heldAgain.done;
  });

  it('ends the hold when the client leaves, so a request nobody waits for keeps no slot and no place', async () => {
    const check = limited(1);
    await ask(check, 'flooder').done;
    const client = new AbortController();
    const left = ask(check, 'flooder', client.signal);
    await vi.advanceTimersByTimeAsync(0);
    expect(left.answer.settled).toBe(false);
    client.abort();
    // No timer advanced: the refusal is settled by the client leaving, not by the hold's end.
    await left.done;
    expect(left.answer).toEqual({ settled: true, code: 'RATE_LIMITED' });
    // Its place among the tenant's held refusals is free again.
    const next = ask(check, 'flooder');
    await vi.advanceTimersByTimeAsync(0);
    expect(next.answer.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(holdMs);
    await next.done;
    // A client already gone is not held at all.
    const gone = ask(check, 'flooder', AbortSignal.abort());
    await gone.done;
    expect(gone.answer).toEqual({ settled: true, code: 'RATE_LIMITED' });
  });

  it('answers at once without a hold', async () => {
    const check = limited(0);
    await ask(check, 'flooder').done;
    const refused = ask(check, 'flooder');
    await refused.done;
    expect(refused.answer).toEqual({ settled: true, code: 'RATE_LIMITED' });
  });
});

import { describe, expect, it } from 'vitest';
import { requestError } from '../errors.ts';
import { cachedVerifier } from './cached-verifier.ts';
import type { JwtVerifier, Principal } from './jwt-verifier.ts';

function fakeVerifier(clock: { now: number }, lifetimeMs = 3_600_000) {
  const state = { calls: 0, keyRemoved: false };
  const verifier: JwtVerifier = {
    async verify(token) {
      state.calls += 1;
      if (state.keyRemoved || token === 'bad') throw requestError('UNAUTHENTICATED', 'Token is invalid');
      const principal: Principal = {
        tenantId: token.split('.')[0] ?? '',
        subject: undefined,
        scopes: new Set(['documents:read']),
        clientType: 'first-party',
        clientIds: [],
        tier: 'standard',
        token,
        expiresAt: clock.now + lifetimeMs,
      };
      return principal;
    },
  };
  return { verifier, state };
}

describe('cachedVerifier', () => {
  it('verifies a token once and reuses the principal, per token', async () => {
    const clock = { now: 1_000_000 };
    const { verifier, state } = fakeVerifier(clock);
    const cached = cachedVerifier(verifier, { now: () => clock.now });
    for (let i = 0; i < 5; i += 1) expect((await cached.verify('t1.a')).tenantId).toBe('t1');
    expect(state.calls).toBe(1);
    expect((await cached.verify('t2.a')).tenantId).toBe('t2');
    expect(state.calls).toBe(2);
  });

  it('stops trusting a cached token after the TTL, so a removed key stops working', async () => {
    const clock = { now: 1_000_000 };
    const { verifier, state } = fakeVerifier(clock);
    const cached = cachedVerifier(verifier, { ttlMs: 60_000, now: () => clock.now });
    await cached.verify('t1.a');
    state.keyRemoved = true;
    clock.now += 59_000;
    await expect(cached.verify('t1.a')).resolves.toMatchObject({ tenantId: 't1' });
    clock.now += 2_000;
    await expect(cached.verify('t1.a')).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  it("never keeps a principal past the token's exp, however long the TTL", async () => {
    const clock = { now: 1_000_000 };
    const { verifier, state } = fakeVerifier(clock, 10_000);
    const cached = cachedVerifier(verifier, { ttlMs: 60_000, now: () => clock.now });
    await cached.verify('t1.a');
    clock.now += 10_001;
    await cached.verify('t1.a');
    expect(state.calls).toBe(2);
  });

  it('never caches a refusal', async () => {
    const clock = { now: 1_000_000 };
    const { verifier, state } = fakeVerifier(clock);
    const cached = cachedVerifier(verifier, { now: () => clock.now });
    await expect(cached.verify('bad')).rejects.toThrow();
    await expect(cached.verify('bad')).rejects.toThrow();
    expect(state.calls).toBe(2);
  });

  it('is the plain verifier when the TTL is 0', () => {
    const { verifier } = fakeVerifier({ now: 0 });
    expect(cachedVerifier(verifier, { ttlMs: 0 })).toBe(verifier);
  });
});

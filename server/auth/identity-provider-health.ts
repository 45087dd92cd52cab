import type { DependencyHealth } from '../http/health.ts';
import type { JwtVerifier } from './jwt-verifier.ts';

/**
 * The identity providers, as readiness sees them: ready while at least one
 * trusted issuer has usable keys (fresh, stale within stale-if-error, or a
 * file), since the service can then authenticate someone. Each issuer's
 * state is in the detail, so one partner realm's outage shows without
 * taking every replica out of service.
 */
export function identityProviderHealth(verifier: JwtVerifier): DependencyHealth {
  return {
    required: true,
    async check() {
      const issuers = (await verifier.keyStatus?.()) ?? [];
      if (issuers.length === 0) return { ok: true, detail: { keys: 'not checked by this verifier' } };
      return {
        ok: issuers.some(({ keys }) => keys !== 'none'),
        detail: { issuers: Object.fromEntries(issuers.map(({ issuer, keys }) => [issuer, keys])) },
      };
    },
  };
}

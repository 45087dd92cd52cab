import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/** The tests that exercise the adapters and the caches: what `npm run test:mutation` runs against each mutant. */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'tests/contracts/**/*.test.ts',
      'tests/unit/cache.test.ts',
      'tests/unit/cache-resilience.test.ts',
      'tests/unit/redis-client.test.ts',
      'tests/unit/data-store-tls.test.ts',
      'tests/unit/client-side-cache.test.ts',
      'tests/unit/response-cache.test.ts',
      'tests/unit/resilient-ports.test.ts',
    ],
    reporters: ['default'],
  },
});

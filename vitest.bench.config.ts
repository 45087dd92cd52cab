import { configDefaults, defineConfig } from 'vitest/config';
import base, { benchRunTests } from './vitest.config.ts';

/**
 * `npm run test:bench`: the tests that run the benchmark itself, one file at a time. Spread, not
 * mergeConfig, which would append these lists to the default suite's instead of replacing them.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: benchRunTests,
    exclude: configDefaults.exclude,
    fileParallelism: false,
    reporters: ['default'],
  },
});

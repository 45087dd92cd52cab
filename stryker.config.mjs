// @ts-check
/**
 * `npm run test:mutation`: mutation testing of the adapters and the caches.
 * `tsconfigFile` names no file on purpose: Stryker rewrites a tsconfig with
 * TypeScript's JavaScript API, which TypeScript 7 (native) no longer has, and
 * the tests run on Node's type stripping, which reads no tsconfig.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: {
    configFile: 'vitest.mutation.config.ts',
  },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'subgraphs/documents/adapters/sqlite-document-store.ts',
    'subgraphs/documents/adapters/mongo-document-store.ts',
    'subgraphs/search/adapters/sqlite-search-index.ts',
    'subgraphs/search/adapters/elasticsearch-search-index.ts',
    'subgraphs/search/adapters/elasticsearch-query.ts',
    'subgraphs/search/adapters/elasticsearch-writes.ts',
    'indexer/adapters/sqlite-partition-leases.ts',
    'indexer/adapters/mongo-partition-leases.ts',
    'server/cache/*.ts',
    'subgraphs/documents/cached-document-store.ts',
    'subgraphs/search/cached-search-index.ts',
    'gateway/response-cache/response-cache.ts',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 60000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: {
    fileName: 'reports/mutation/mutation.json',
  },
  thresholds: {
    high: 80,
    low: 60,
    break: null,
  },
  tempDirName: '.stryker-tmp',
  dryRunTimeoutMinutes: 60,
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  tsconfigFile: 'no-tsconfig-to-rewrite.json',
};

import { configDefaults, defineConfig } from 'vitest/config';

/** The tests that start `bench/run.ts`, kept out of `npm test`. */
export const benchRunTests = ['tests/bench/smoke.test.ts', 'tests/bench/interrupted.test.ts'];

export default defineConfig({
  // Node loads graphql's CommonJS entry (it has no exports map), and so do Apollo and graphql-armor.
  // Vite would pick its `module` entry for our files: two graphql realms, and "Cannot use GraphQLSchema
  // from another module or realm" as soon as one of ours validates against Apollo's schema.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['tests/**/*.test.ts', '{gateway,indexer,subgraphs,server}/**/*.test.ts'],
    // They run the whole benchmark (every service, Redis, three gateways) for minutes on a busy machine:
    // `npm run test:bench` runs them (vitest.bench.config.ts).
    exclude: [...configDefaults.exclude, ...benchRunTests],
    // Generous: starting a test stack (every service in-process) took more than 30 s on a 2-core
    // machine running other CPU-heavy jobs. A passing test is no slower for it.
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: 'forks',
    // Most test time is spent waiting on the processes and servers the tests start, not on CPU: three
    // files at a time keep a 2-core machine busy (the default leaves one core to the runner and runs one).
    maxWorkers: 3,
    // The JSON report lets .ci/run print a plain 'N passed, N failed' closing line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});

import { describe, expect, it } from 'vitest';
import { createCorpus, zipfTenantSizes } from '../../bench/corpus.ts';
import { type RunnerRequest, uniqueQuery } from '../../bench/load-runner.ts';
import {
  buildScenario,
  floodConnections,
  isWrite,
  realisticQueries,
  realisticWriteShare,
} from '../../bench/scenarios.ts';

const corpus = createCorpus({ documents: 2000, tenants: 20, tenantSizes: 'zipf', vocabularySize: 6000 });
const tokens = {
  user: corpus.tenants.map((tenant) => `user-${tenant}`),
  partner: corpus.tenants.map((tenant) => `partner-${tenant}`),
  rateLimited: corpus.tenants.map((tenant) => `rate-limited-${tenant}`),
};
const bearer = (request: RunnerRequest) => request.headers.authorization?.replace('Bearer ', '');
const variables = (body: string) => (JSON.parse(body) as { variables: { query: string } }).variables;

describe('bench scenarios', () => {
  it('sizes tenants by Zipf: the largest about twice the second, every tenant non-empty, the total kept', () => {
    const sizes = zipfTenantSizes(100_000, 20);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(100_000);
    expect(sizes[0]! / sizes[1]!).toBeCloseTo(2, 1);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    expect(zipfTenantSizes(20, 20)).toEqual(Array(20).fill(1));
  });

  it('never repeats a unique query', () => {
    const unique = { primary: ['a', 'b', 'c'], secondary: ['x', 'y'] };
    const queries = Array.from({ length: 3 * 3 * 2 }, (_, n) => uniqueQuery(unique, n));
    expect(new Set(queries).size).toBe(queries.length);
  });

  it('draws the realistic mix from 10,000 distinct queries, skewed, with 5% writes, big tenants busiest', () => {
    const { requests } = buildScenario('realistic', corpus, tokens);
    const writes = requests.filter(isWrite).length / requests.length;
    expect(writes).toBeGreaterThan(realisticWriteShare * 0.8);
    expect(writes).toBeLessThan(realisticWriteShare * 1.2);
    const reads = requests.filter((request) => !isWrite(request));
    const counts = new Map<string, number>();
    for (const request of reads) {
      const key = `${request.headers.authorization} ${variables(request.body).query}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBeLessThanOrEqual(realisticQueries);
    const frequencies = [...counts.values()].sort((a, b) => b - a);
    // Zipf s = 1 over 10,000 queries: the top query takes about a tenth of the reads, most are rare.
    expect(frequencies[0]! / reads.length).toBeGreaterThan(0.05);
    expect(frequencies.filter((count) => count === 1).length).toBeGreaterThan(counts.size / 4);
    const byTenant = (tenant: number) =>
      reads.filter((request) => request.headers.authorization === `Bearer ${tokens.user[tenant]}`).length;
    expect(byTenant(0)).toBeGreaterThan(byTenant(19) * 5);
  });

  it('asks natural-language questions of several words, common ones included', () => {
    const { requests } = buildScenario('natural-language', corpus, tokens);
    const common = new Set(corpus.vocabulary.slice(0, 10));
    for (const request of requests.slice(0, 200)) {
      const words = variables(request.body).query.split(' ');
      expect(words.length).toBeGreaterThanOrEqual(4);
      expect(words.some((word) => common.has(word))).toBe(true);
    }
  });

  it("floods from another tenant than the victim's, at concurrency 20, both under the production rate limit", () => {
    const load = buildScenario('noisy-neighbour', corpus, tokens);
    expect(load.flood?.connections).toBe(floodConnections);
    expect(floodConnections).toBe(20);
    const victim = new Set(load.requests.map((request) => request.headers.authorization));
    for (const request of load.flood!.requests) expect(victim.has(request.headers.authorization)).toBe(false);
    const everyRequest = [...load.requests, ...load.flood!.requests];
    for (const request of everyRequest) expect(tokens.rateLimited).toContain(bearer(request));
    expect(load.unique).toBeDefined();
  });
});

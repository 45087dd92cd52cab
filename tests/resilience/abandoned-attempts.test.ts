import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type StackOnSlowElasticsearch,
  startStackOnSlowElasticsearch,
} from '../helpers/slow-elasticsearch.ts';

/** How long an abandoned backend call may take to see its connection closed, on a loaded machine. */
const abandonedCallStopsWithinMs = 5000;
const readAttempts = 3;

let held: StackOnSlowElasticsearch;

beforeAll(async () => {
  held = await startStackOnSlowElasticsearch({
    // The gateway gives up on the subgraph while the subgraph is on its second backend attempt.
    RESILIENCE_TIMEOUT_MS: '600,redis=250,search-index=400',
    RETRY_MAX_ATTEMPTS: `${readAttempts},redis=1`,
    // Breakers stay closed: the test counts attempts, not refusals.
    BREAKER_FAILURE_THRESHOLD: '1000',
  });
});

afterAll(async () => {
  await held?.stop();
});

it('calls a slow backend at most the read attempts per client request, and stops every call once its caller has gone', async () => {
  const { backend, stack } = held;
  const token = await stack.token('acme');
  // Empty text: no synonyms to read first, so each attempt's first backend call is the one held.
  const answer = await stack.graphql('{ search(query: "", first: 5) { total } }', { token });
  expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['SUBGRAPH_UNAVAILABLE']);
  const answeredAt = performance.now();

  // Retries at one layer only: not the gateway's attempts times the subgraph's.
  expect(backend.calls.length).toBeGreaterThanOrEqual(1);
  expect(backend.calls.length).toBeLessThanOrEqual(readAttempts);
  // Every call the subgraph started is stopped, soon after the gateway stopped waiting for it.
  await expect
    .poll(() => backend.calls.every((call) => call.closedAt !== undefined), {
      timeout: abandonedCallStopsWithinMs,
    })
    .toBe(true);
  const started = backend.calls.length;
  // A second request runs its whole course on the same connections; an attempt of the first one still
  // pending (a retry behind its backoff) would have started by then and shows up in the count.
  await stack.graphql('{ search(query: "", first: 6) { total } }', { token });
  await expect
    .poll(() => backend.calls.every((call) => call.closedAt !== undefined), {
      timeout: abandonedCallStopsWithinMs,
    })
    .toBe(true);
  const firstRequestCalls = backend.calls.filter((call) => call.startedAt <= answeredAt).length;
  expect(firstRequestCalls).toBe(started);
  expect(backend.calls.length - started).toBeLessThanOrEqual(readAttempts);
});

import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type StackOnSlowElasticsearch,
  startStackOnSlowElasticsearch,
} from '../helpers/slow-elasticsearch.ts';

/** How long a backend call may take to see its connection closed once the client has gone, on a loaded machine. */
const abandonedCallStopsWithinMs = 5000;

let held: StackOnSlowElasticsearch;

beforeAll(async () => {
  held = await startStackOnSlowElasticsearch({
    // Far past the test: only the client leaving can end a held call.
    RESILIENCE_TIMEOUT_MS: '60000,redis=250',
    // As deployed: the response cache looks the request up first, and a miss goes on to Apollo.
    RESPONSE_CACHE_TTL_SECONDS: '60',
  });
});

afterAll(async () => {
  await held?.stop();
});

it('stops the backend calls of a search whose client has gone, with the response cache on', async () => {
  const { backend, stack } = held;
  const token = await stack.token('acme');
  const client = new AbortController();
  const answer = fetch(stack.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    // Empty text: no synonyms to read first, so the first backend call is the one held.
    body: JSON.stringify({ query: '{ search(query: "", first: 5) { total } }' }),
    signal: client.signal,
  });
  await expect.poll(() => backend.calls.length, { timeout: abandonedCallStopsWithinMs }).toBeGreaterThan(0);

  client.abort();
  await expect(answer).rejects.toThrow();
  await expect
    .poll(() => backend.calls.every((call) => call.closedAt !== undefined), {
      timeout: abandonedCallStopsWithinMs,
    })
    .toBe(true);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestIdOf } from '../../server/observability/request-id.ts';
import { startTestStack, type TestStack } from '../helpers/test-stack.ts';

interface LogLine {
  msg: string;
  service?: string;
  operation?: string | null;
  request_id?: string;
  trace_id?: string;
}

const hexId = /^[\da-f]{32}$/;

describe('requestIdOf', () => {
  it('takes the trace id of a valid traceparent, else a safe x-request-id, else makes one', () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(requestIdOf({ traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-request-id': 'mine' })).toBe(
      traceId,
    );
    expect(requestIdOf({ 'x-request-id': 'lb-7f3a:2' })).toBe('lb-7f3a:2');
    for (const headers of [
      { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` },
      { traceparent: 'garbage' },
      { 'x-request-id': 'has spaces\nand a newline' },
      { 'x-request-id': 'x'.repeat(129) },
      {},
    ]) {
      expect(requestIdOf(headers)).toMatch(hexId);
    }
    expect(requestIdOf({})).not.toBe(requestIdOf({}));
  });
});

// No startTracing in this file: the ids must correlate log lines with tracing off.
describe('request ids with tracing off', () => {
  const raw: string[] = [];
  let stack: TestStack;
  let token: string;

  beforeAll(async () => {
    stack = await startTestStack({ logDestination: { write: (line: string) => raw.push(line) } });
    token = await stack.token('tenant-ids');
  });
  afterAll(() => stack?.stop());

  async function search(operationName: string, headers: Record<string, string> = {}) {
    const response = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query: `query ${operationName} { search(query: "anything") { total } }` }),
    });
    expect(response.status).toBe(200);
    await response.text();
    return response.headers.get('x-request-id');
  }

  const requestLines = (operationName: string) =>
    raw
      .map((line) => JSON.parse(line) as LogLine)
      .filter((line) => line.msg === 'request' && line.operation?.startsWith(operationName));

  it('continues an incoming traceparent: its trace id is the response header and every request line carries it', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const id = await search('WithTraceparent', { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    expect(id).toBe(traceId);
    const lines = requestLines('WithTraceparent');
    expect(lines.map((line) => line.service).sort()).toEqual(['gateway', 'search']);
    for (const line of lines) expect(line).toMatchObject({ request_id: traceId });
    expect(lines.some((line) => line.trace_id)).toBe(false);
  });

  it('makes a new id per request without one, and the subgraph logs under the gateway id', async () => {
    const first = await search('WithoutIdOne');
    const second = await search('WithoutIdTwo');
    expect(first).toMatch(hexId);
    expect(second).toMatch(hexId);
    expect(first).not.toBe(second);
    for (const [operationName, id] of [
      ['WithoutIdOne', first],
      ['WithoutIdTwo', second],
    ] as const) {
      const lines = requestLines(operationName);
      expect(lines.map((line) => line.service).sort()).toEqual(['gateway', 'search']);
      for (const line of lines) expect(line.request_id).toBe(id);
    }
  });
});

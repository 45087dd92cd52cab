import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout } from 'node:timers/promises';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../../server/observability/tracing.ts';
import type { SearchIndex } from '../../subgraphs/search/search-index.ts';
import { expectStillHealthy } from '../helpers/health.ts';
import type { TestStack } from '../helpers/test-stack.ts';

interface LogLine {
  level: string;
  msg: string;
  service?: string;
  tenant?: string;
  operation?: string | null;
  durationMs?: number;
  cache?: string;
  errors?: string[];
  trace_id?: string;
  span_id?: string;
}

describe('request log lines', () => {
  const exporter = new InMemorySpanExporter();
  const raw: string[] = [];
  let tracing: Tracing;
  let stack: TestStack;
  let token: string;
  let lines: LogLine[];
  let spans: ReadableSpan[];

  beforeAll(async () => {
    tracing = await startTracing({
      serviceName: 'quarry-test',
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const { startTestStack } = await import('../helpers/test-stack.ts');
    stack = await startTestStack({
      logDestination: { write: (line: string) => raw.push(line) },
      // A backend failure makes the subgraph log an internal error in full, the likeliest place for a leak.
      decorateIndex: (index): SearchIndex => ({
        search: (request) =>
          request.text === 'explode'
            ? Promise.reject(new Error(`index is down for ${request.tenantId}`))
            : index.search(request),
        suggest: (...args) => index.suggest(...args),
        apply: (changes) => index.apply(changes),
        close: () => index.close(),
      }),
    });
    token = await stack.token('tenant-logs');
    await stack.graphql('mutation Create { createDocument(input: { title: "Logged", body: "b" }) { id } }', {
      token,
    });
    await stack.settle();
    await stack.graphql('query FirstSearch { search(query: "logged") { hits { document { title } } } }', {
      token,
    });
    await stack.graphql('query SecondSearch { search(query: "logged") { total } }', { token });
    await stack.graphql('query Broken { search(query: "explode") { total } }', { token });
    await stack.graphql('query Forged { search(query: "logged") { total } }', { token: `${token}x` });
    lines = raw.map((line) => JSON.parse(line) as LogLine);
    spans = exporter.getFinishedSpans();
  });
  afterAll(async () => {
    await stack?.stop();
    await tracing?.shutdown();
  });

  const requestLines = (operation: string) =>
    lines.filter((line) => line.msg === 'request' && line.operation?.startsWith(operation));

  it('writes one line per request at the gateway and each subgraph it called', () => {
    const first = requestLines('FirstSearch');
    expect(first.map((line) => line.service).sort()).toEqual(['documents', 'gateway', 'search']);
    const gatewayLine = first.find((line) => line.service === 'gateway')!;
    expect(gatewayLine).toMatchObject({ level: 'info', tenant: 'tenant-logs', cache: 'miss', errors: [] });
    expect(gatewayLine.durationMs).toBeGreaterThan(0);
  });

  it('says how the search subgraph served the search: computed, then from the cache', () => {
    const searchLine = (operation: string) =>
      requestLines(operation).find((line) => line.service === 'search');
    expect(searchLine('FirstSearch')).toMatchObject({ cache: 'miss' });
    expect(searchLine('SecondSearch')).toMatchObject({ cache: 'hit' });
  });

  it('carries the trace id of its own request, and the span id of its request span', () => {
    for (const operation of ['FirstSearch', 'SecondSearch', 'Broken']) {
      const gatewayRequest = spans.find(
        (span) => span.name === 'gateway.request' && span.attributes['graphql.operation.name'] === operation,
      );
      expect(gatewayRequest, operation).toBeDefined();
      const traceId = gatewayRequest!.spanContext().traceId;
      const forOperation = requestLines(operation);
      expect(forOperation.length).toBeGreaterThanOrEqual(2);
      for (const line of forOperation) {
        expect(line.trace_id, `${operation} ${line.service}`).toBe(traceId);
        const span = spans.find((candidate) => candidate.spanContext().spanId === line.span_id);
        expect(span?.kind).toBe(SpanKind.SERVER);
        expect(span?.spanContext().traceId).toBe(traceId);
      }
    }
    const traceIds = ['FirstSearch', 'SecondSearch'].map((operation) => requestLines(operation)[0]?.trace_id);
    expect(traceIds[0]).not.toBe(traceIds[1]);
  });

  it('names the error codes, and logs server errors at warn', () => {
    const broken = requestLines('Broken');
    const gatewayLine = broken.find((line) => line.service === 'gateway')!;
    expect(gatewayLine).toMatchObject({ level: 'warn', errors: ['SEARCH_UNAVAILABLE'] });
    const searchLine = broken.find((line) => line.service === 'search');
    expect(searchLine).toMatchObject({ level: 'warn', errors: ['SEARCH_UNAVAILABLE'] });
    expect(searchLine?.trace_id).toBe(gatewayLine.trace_id);
  });

  it('logs nothing at error for a client that goes away halfway through its body', async () => {
    const url = new URL(stack.gatewayUrl);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    const before = raw.length;
    socket.write(
      `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n` +
        `authorization: Bearer ${token}\r\ncontent-length: 1000\r\n\r\n{"query":"{ sugg`,
    );
    await setTimeout(50);
    socket.destroy();
    // The next request is answered after the aborted one was handled.
    await expectStillHealthy(stack);
    const after = raw.slice(before).map((line) => JSON.parse(line) as LogLine);
    expect(after.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('logs a refused token without the token', () => {
    const refused = lines.find((line) => line.msg === 'request refused' && line.service === 'gateway');
    expect(refused?.errors).toEqual(['UNAUTHENTICATED']);
  });

  it('never writes a token, or any part of its signature, to any line', () => {
    expect(raw.length).toBeGreaterThan(10);
    const signature = token.split('.')[2]!;
    for (const line of raw) {
      expect(line).not.toContain(signature);
      expect(line).not.toContain(token.split('.')[1]!);
      expect(line.toLowerCase()).not.toContain('bearer');
    }
  });
});

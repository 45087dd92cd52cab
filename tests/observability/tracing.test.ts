import { readFile } from 'node:fs/promises';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../../server/observability/tracing.ts';
import type { TestStack } from '../helpers/test-stack.ts';

/** A span and its ancestors, nearest first. */
function ancestry(span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(spans.map((candidate) => [candidate.spanContext().spanId, candidate]));
  const chain: ReadableSpan[] = [];
  for (let current: ReadableSpan | undefined = span; current; ) {
    chain.push(current);
    const parentId: string | undefined = current.parentSpanContext?.spanId;
    current = parentId ? byId.get(parentId) : undefined;
  }
  return chain;
}

function label(span: ReadableSpan): string {
  if (span.instrumentationScope.name.includes('instrumentation-http')) return `http-server`;
  if (span.instrumentationScope.name.includes('instrumentation-undici')) return `http-client`;
  if (span.name === 'gateway.fetch') return `gateway.fetch{${String(span.attributes.service)}}`;
  return span.name;
}

/** `expected` appears in `chain` in this order (other spans may sit between). */
function expectInOrder(chain: readonly string[], expected: readonly string[]) {
  let position = -1;
  for (const name of expected) {
    position = chain.indexOf(name, position + 1);
    expect(position, `${expected.join(' < ')} in ${chain.join(' < ')}`).toBeGreaterThanOrEqual(0);
  }
}

// startTracing registers process-wide providers and loader hooks, so this file relies on vitest giving
// each test file its own worker process (the default isolation of the forks pool).
describe('one search through the gateway is one trace', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let stack: TestStack;
  let token: string;
  let spans: ReadableSpan[];

  beforeAll(async () => {
    // Tracing first, and only then the stack's modules, exactly as main.ts does.
    tracing = await startTracing({
      serviceName: 'quarry-test',
      configuredServiceName: 'quarry-from-otel-service-name',
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const { startTestStack } = await import('../helpers/test-stack.ts');
    stack = await startTestStack();
    token = await stack.token('tenant-trace');
    await stack.graphql(
      'mutation { createDocument(input: { title: "Traced", body: "a secret body text" }) { id } }',
      { token },
    );
    await stack.settle();
    exporter.reset();
    const result = await stack.graphql(
      'query FindTraced { search(query: "traced") { hits { document { id title } } } }',
      { token },
    );
    expect(result.errors).toBeUndefined();
    spans = exporter.getFinishedSpans();
  });
  afterAll(async () => {
    await stack?.stop();
    await tracing?.shutdown();
  });

  it('names the service as OTEL_SERVICE_NAME says', () => {
    expect(new Set(spans.map((span) => span.resource.attributes['service.name']))).toEqual(
      new Set(['quarry-from-otel-service-name']),
    );
  });

  it('puts every span of the request in the trace of the gateway request', () => {
    const gatewayRequest = spans.find((span) => span.name === 'gateway.request');
    expect(gatewayRequest).toBeDefined();
    const traceId = gatewayRequest!.spanContext().traceId;
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([traceId]));
    expect(gatewayRequest!.attributes['graphql.operation.name']).toBe('FindTraced');
  });

  it('parents the search backend call under the search subgraph, under the gateway fetch', () => {
    const backend = spans.find((span) => span.name === 'search-index.search');
    expect(backend?.kind).toBe(SpanKind.CLIENT);
    expect(backend?.attributes['quarry.tenant_id']).toBe('tenant-trace');
    const chain = ancestry(backend!, spans).map(label);
    // When the search cache exists, its span belongs between `graphql.resolve search` and the index call.
    expectInOrder(chain, [
      'search-index.search',
      'graphql.resolve search',
      'http-server',
      'http-client',
      'gateway.fetch{search}',
      'gateway.execute',
      'gateway.request',
      'http-server',
    ]);
  });

  it('puts the search cache lookups in the search resolver, beside the backend call', () => {
    const lookups = spans.filter((span) => span.name.startsWith('cache.'));
    expect(lookups.length).toBeGreaterThan(0);
    const resolver = spans.find((span) => span.name === 'graphql.resolve search');
    for (const lookup of lookups.filter((span) => ancestry(span, spans).includes(resolver!))) {
      expect(lookup.kind).toBe(SpanKind.CLIENT);
      expect(lookup.attributes['quarry.tenant_id']).toBeUndefined();
    }
    expect(lookups.some((span) => ancestry(span, spans).includes(resolver!))).toBe(true);
  });

  it('parents the batched document load under the documents subgraph, under its own gateway fetch', () => {
    const backend = spans.find((span) => span.name === 'documents-store.findByIds');
    expect(backend?.attributes['quarry.tenant_id']).toBe('tenant-trace');
    const chain = ancestry(backend!, spans).map(label);
    expectInOrder(chain, [
      'documents-store.findByIds',
      'graphql.resolve _entities',
      'http-server',
      'http-client',
      'gateway.fetch{documents}',
      'gateway.request',
    ]);
  });

  it('labels the request spans of gateway and subgraphs with the tenant and operation', () => {
    const servers = spans.filter((span) => span.kind === SpanKind.SERVER);
    expect(servers).toHaveLength(3);
    for (const server of servers) expect(server.attributes['quarry.tenant_id']).toBe('tenant-trace');
    expect(servers.map((server) => server.attributes['graphql.operation.name']).sort()).toEqual([
      'FindTraced',
      'FindTraced__documents__1',
      'FindTraced__search__0',
    ]);
  });

  it("plans a query on its first request, but finds a persisted operation's plan warmed at start", async () => {
    expect(spans.filter((span) => span.name === 'gateway.plan')).toHaveLength(1);
    const { manifestPath } = await import('../../schema/operations.ts');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
      operations: { id: string; name: string }[];
    };
    // Both subgraphs and an entity fetch: the warmed plan is executed as the gateway's own would be.
    const searchPage = manifest.operations.find((operation) => operation.name === 'SearchPage');
    exporter.reset();
    const { postGraphQL } = await import('../helpers/test-stack.ts');
    const result = await postGraphQL<{ search: { hits: { document: { title: string } }[] } }>(
      stack.gatewayUrl,
      {
        operationName: 'SearchPage',
        variables: { query: 'traced' },
        extensions: { persistedQuery: { version: 1, sha256Hash: searchPage!.id } },
      },
      token,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.search.hits.map((hit) => hit.document.title)).toEqual(['Traced']);
    const persisted = exporter.getFinishedSpans();
    expect(persisted.filter((span) => span.name === 'gateway.request')).toHaveLength(1);
    expect(persisted.filter((span) => span.name === 'gateway.plan')).toHaveLength(0);
  });

  it('records neither the token nor document text in any span', () => {
    const text = JSON.stringify(spans.map((span) => [span.name, span.attributes, span.events]));
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.split('.')[2]);
    expect(text).not.toContain('secret body');
    expect(text).not.toContain('"traced"');
  });
});

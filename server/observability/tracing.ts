import { register } from 'node:module';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { GraphQLInstrumentation } from '@opentelemetry/instrumentation-graphql';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { MongoDBInstrumentation } from '@opentelemetry/instrumentation-mongodb';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { startNodeSdk } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { createAddHookMessageChannel } from 'import-in-the-middle';

export interface TracingOptions {
  /** `service.name` on every span unless configured: `gateway`, `documents`, `search`, `indexer`. */
  serviceName: string;
  /** OTEL_SERVICE_NAME, which wins over `serviceName` (compose names each service `quarry-<name>`). */
  configuredServiceName?: string;
  /** From configuration: true when an OTLP endpoint or a traces exporter is set. Default false. */
  enabled?: boolean;
  /**
   * Where spans go. Default: what the standard OTEL_* variables say (OTLP
   * over HTTP to OTEL_EXPORTER_OTLP_ENDPOINT). Tests pass an in-memory
   * exporter's processor, which also enables tracing.
   */
  spanProcessors?: SpanProcessor[];
}

export interface Tracing {
  /** Flushes buffered spans; call it last on shutdown. */
  shutdown(): Promise<void>;
}

/**
 * What Quarry instruments. Trivial resolver spans (a field read off its
 * parent) are off, or a page of 50 hits would be hundreds of spans; a resolver
 * that returns a promise still gets one. Elasticsearch is absent on purpose:
 * its client emits its own spans through the OpenTelemetry API.
 */
export function quarryInstrumentations(): Instrumentation[] {
  return [
    new HttpInstrumentation({
      // Probes and scrapes would be most of the traces and none of the interest.
      ignoreIncomingRequestHook: (request) =>
        request.url?.startsWith('/health') || request.url === '/metrics',
    }),
    new UndiciInstrumentation(),
    new GraphQLInstrumentation({ ignoreTrivialResolveSpans: true, mergeItems: true, allowValues: false }),
    new IORedisInstrumentation({ requireParentSpan: true }),
    new MongoDBInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
  ];
}

/**
 * Starts the OpenTelemetry SDK, or nothing when tracing is off. It must run
 * before the service's modules are imported: instrumentations patch
 * libraries as they load. Node runs Quarry's .ts files as ES modules, so
 * besides require hooks the import-in-the-middle loader hook is registered,
 * limited to the modules the instrumentations ask for.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.enabled && !options.spanProcessors) return { shutdown: async () => {} };
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const sdk = startNodeSdk({
    resourceAttributes: { 'service.name': options.configuredServiceName ?? options.serviceName },
    instrumentations: quarryInstrumentations(),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    // Metrics are prom-client's (scraped); logs are pino's (stdout). The SDK carries traces only.
    metricReaders: [],
    logRecordProcessors: [],
  });
  await waitForAllMessagesAcknowledged();
  return { shutdown: () => sdk.shutdown() };
}

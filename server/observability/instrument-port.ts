import { type Attributes, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { OperationalEvents } from './events.ts';

export interface InstrumentPortOptions {
  /** The dependency as metrics and spans name it: `documents-store`, `search-index`. */
  dependency: string;
  /**
   * Where latency goes. Omit it for a port under a resilience policy: the
   * policy reports the call as its caller saw it (retries included), and the
   * span here still shows each attempt.
   */
  events?: OperationalEvents;
  /** Methods left alone; default `close`. */
  skip?: readonly string[];
  /**
   * Methods timed but not traced: a poll that runs every 100 ms with no
   * request behind it would fill the trace store with one-span traces.
   */
  untraced?: readonly string[];
  /**
   * Whether the first argument names the tenant, as on the data ports.
   * Default true; false for the cache, whose first argument is a key.
   */
  recordTenant?: boolean;
}

/** Ports take the tenant first, or inside the request object (`SearchIndex.search`). */
function tenantOf(args: readonly unknown[]): string | undefined {
  const [first] = args;
  if (typeof first === 'string') return first;
  if (first && typeof first === 'object' && 'tenantId' in first && typeof first.tenantId === 'string')
    return first.tenantId;
  return undefined;
}

/**
 * Wraps a port (`DocumentStore`, `SearchIndex`) so every call made within a
 * traced request runs in a client span and, given `events`, reports its
 * latency and outcome. The span is explicit because the embedded backend
 * (node:sqlite) has no instrumentation; with MongoDB or Elasticsearch
 * behind the port, the driver's own spans nest under it. Spans carry the
 * tenant and the method, never arguments: those are document bodies and
 * search text.
 */
export function instrumentPort<T extends object>(target: T, options: InstrumentPortOptions): T {
  const { dependency, events, skip = ['close'], untraced = [], recordTenant = true } = options;
  const tracer = trace.getTracer('quarry');

  async function timed(operation: string, call: () => unknown, span: Span | undefined) {
    const started = performance.now();
    try {
      const result = await call();
      events?.backendCall(dependency, operation, (performance.now() - started) / 1000, 'ok');
      return result;
    } catch (error) {
      events?.backendCall(dependency, operation, (performance.now() - started) / 1000, 'error');
      span?.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).name });
      throw error;
    } finally {
      span?.end();
    }
  }
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || skip.includes(property))
        return value;
      return (...args: unknown[]) => {
        // Only inside a recorded trace (OpenTelemetry's `requireParentSpan`): a call with no request
        // behind it would be a one-span trace, and with tracing off this skips the no-op span's cost.
        if (untraced.includes(property) || !trace.getActiveSpan())
          return timed(property, () => value.apply(object, args), undefined);
        const attributes: Attributes = { 'quarry.dependency': dependency, 'quarry.operation': property };
        const tenantId = recordTenant ? tenantOf(args) : undefined;
        if (tenantId) attributes['quarry.tenant_id'] = tenantId;
        return tracer.startActiveSpan(
          `${dependency}.${property}`,
          { kind: SpanKind.CLIENT, attributes },
          (span) => timed(property, () => value.apply(object, args), span),
        );
      };
    },
  });
}

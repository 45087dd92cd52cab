import { z } from 'zod';
import { defineConcern } from './concern.ts';
import { list } from './variables.ts';

/** Prometheus metrics (METRICS_*) and whether OpenTelemetry tracing starts (OTEL_*). */
export const observabilityConcern = defineConcern({
  shape: {
    METRICS_TENANTS: list.default([]),
    METRICS_MAX_TENANTS: z.coerce.number().int().min(0).max(1000).default(50),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    METRICS_MAX_OPERATIONS: z.coerce.number().int().min(0).max(1000).default(20),
    // The OpenTelemetry SDK reads the other OTEL_* variables itself; these only decide whether it starts.
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
    OTEL_TRACES_EXPORTER: z.string().min(1).optional(),
    OTEL_SDK_DISABLED: z.enum(['true', 'false']).optional(),
    // The SDK would read it too, but the service's own name, passed explicitly, would win over it.
    OTEL_SERVICE_NAME: z.string().min(1).optional(),
  },
  section: (env) => ({
    metrics: {
      /** A listener of its own for `/metrics` (and health), apart from clients; one service per process. */
      listener:
        env.METRICS_PORT === undefined ? undefined : { port: env.METRICS_PORT, host: env.METRICS_HOST },
      tenantAllowlist: env.METRICS_TENANTS,
      maxTenantLabels: env.METRICS_MAX_TENANTS,
      maxOperationLabels: env.METRICS_MAX_OPERATIONS,
    },
    tracing: {
      // Off unless an exporter is named, so a laptop without a collector sends nothing anywhere.
      enabled:
        env.OTEL_SDK_DISABLED !== 'true' &&
        (env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ||
          (env.OTEL_TRACES_EXPORTER !== undefined && env.OTEL_TRACES_EXPORTER !== 'none')),
      configuredServiceName: env.OTEL_SERVICE_NAME,
    },
  }),
});

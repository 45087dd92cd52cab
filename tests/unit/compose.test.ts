import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: docker-compose.yml is plain YAML.
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as any;
const services = Object.entries(compose.services) as [
  string,
  { image?: string; build?: unknown; volumes?: string[] },
][];

it('pins every image to a version, and builds Quarry once', () => {
  for (const [name, service] of services) expect(service.image, name).toMatch(/:(?!latest$)[\w.-]+$/);
  expect(services.filter(([, service]) => service.build).map(([name]) => name)).toEqual(['dev-keys']);
});

it('runs maintained observability releases: Jaeger v2, Prometheus v3, and Grafana with the dashboard', () => {
  expect(compose.services.jaeger.image).toMatch(/^jaegertracing\/jaeger:2\./);
  expect(compose.services.prometheus.image).toMatch(/^prom\/prometheus:v3\./);
  const mounts: string[] = compose.services.grafana.volumes;
  for (const mount of mounts) {
    const source = mount.split(':')[0] as string;
    expect(existsSync(new URL(source, root)), source).toBe(true);
  }
  expect(mounts.some((mount) => mount.includes('grafana-dashboard.json'))).toBe(true);
});

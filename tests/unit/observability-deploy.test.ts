import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../server/config.ts';
import { createMetrics } from '../../server/observability/metrics.ts';

const deployDir = new URL('../../deploy/observability/', import.meta.url);
const read = (name: string) => readFile(new URL(name, deployDir), 'utf8');

/** Every series name the services can expose, histograms with their three suffixes. */
async function exposedSeries(): Promise<Set<string>> {
  const metrics = createMetrics({ service: 'any' });
  metrics.trackIndexerLag(async () => null);
  metrics.trackIndexer(async () => 0);
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

describe('deploy/observability', () => {
  it('uses only metric names the services expose, in the dashboard and in the rules', async () => {
    const exposed = await exposedSeries();
    for (const file of ['grafana-dashboard.json', 'alerts.yml']) {
      const used = new Set((await read(file)).match(/\bquarry_[a-z_]+/g));
      expect(used.size, file).toBeGreaterThan(0);
      for (const name of used) expect(exposed, `${file} uses ${name}`).toContain(name);
    }
  });

  it('charts every metric an alert fires on, so the page it sends can be read on the dashboard', async () => {
    const charted = new Set((await read('grafana-dashboard.json')).match(/\bquarry_[a-z_]+/g));
    const alerted = new Set((await read('alerts.yml')).match(/\bquarry_[a-z_]+/g));
    expect([...alerted].filter((name) => !charted.has(name))).toEqual([]);
  });

  it('scrapes every service at /metrics on its metrics port (the indexer on its own port)', async () => {
    const config = loadConfig({ JWT_JWKS_FILE: 'unused', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' });
    const compose = parse(await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), {
      merge: true,
    }) as { 'x-quarry-service': { environment: { METRICS_PORT: string } } };
    const metricsPort = compose['x-quarry-service'].environment.METRICS_PORT;
    const scrape = parse(await read('prometheus.yml')) as {
      scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = scrape.scrape_configs.flatMap((job) => {
      expect(job.metrics_path).toBe('/metrics');
      return job.static_configs.flatMap((group) => group.targets);
    });
    expect(targets.sort()).toEqual(
      [
        `documents:${metricsPort}`,
        `gateway:${metricsPort}`,
        `indexer:${config.indexer.port}`,
        `search:${metricsPort}`,
      ].sort(),
    );
  });

  it('alerts on the 99.95% SLO with paired long and short windows', async () => {
    const rules = parse(await read('alerts.yml')) as {
      groups: { rules: { alert?: string; expr: string }[] }[];
    };
    const alerts = rules.groups.flatMap((group) => group.rules).filter((rule) => rule.alert);
    const fast = alerts.find((rule) => rule.alert === 'QuarryErrorBudgetFastBurn')!;
    expect(fast.expr).toContain('quarry:slo_errors:ratio_rate1h > (14.4 * 0.0005)');
    expect(fast.expr).toContain('quarry:slo_errors:ratio_rate5m > (14.4 * 0.0005)');
    const slow = alerts.find((rule) => rule.alert === 'QuarryErrorBudgetSlowBurn')!;
    expect(slow.expr).toContain('quarry:slo_errors:ratio_rate3d > (1 * 0.0005)');
  });
});

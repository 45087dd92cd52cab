import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { allowedEdges, type Endpoint, type KubernetesObject } from '../helpers/network-policy.ts';

const run = promisify(execFile);
const root = new URL('../../deploy/kubernetes/', import.meta.url);
const overlays = ['development', 'production', 'blue', 'green', 'live'] as const;
type Overlay = (typeof overlays)[number];

/** `kubectl kustomize` is the renderer operators use; without it these checks cannot run at all. */
async function render(overlay: Overlay): Promise<KubernetesObject[]> {
  const path = new URL(`overlays/${overlay}`, root).pathname;
  const { stdout } = await run('kubectl', ['kustomize', path], { maxBuffer: 16 * 1024 * 1024 }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT')
        throw new Error('kubectl is not installed: apt-get install kubectl (or kubernetes-client)');
      throw error;
    },
  );
  return parseAllDocuments(stdout).map((document) => document.toJS() as KubernetesObject);
}

/** The model classes of the kinds Quarry renders, from the kubernetes-models packages (the API's schemas). */
type Model = new (data: never) => { validate(): void };
const models: Record<string, () => Promise<Record<string, Model>>> = {
  'v1/ConfigMap': () => import('kubernetes-models/v1/ConfigMap'),
  'v1/Secret': () => import('kubernetes-models/v1/Secret'),
  'v1/Service': () => import('kubernetes-models/v1/Service'),
  'apps/v1/Deployment': () => import('kubernetes-models/apps/v1/Deployment'),
  'policy/v1/PodDisruptionBudget': () => import('kubernetes-models/policy/v1/PodDisruptionBudget'),
  'autoscaling/v2/HorizontalPodAutoscaler': () =>
    import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'),
  'networking.k8s.io/v1/NetworkPolicy': () => import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy'),
  'networking.k8s.io/v1/Ingress': () => import('kubernetes-models/networking.k8s.io/v1/Ingress'),
  'monitoring.coreos.com/v1/ServiceMonitor': () =>
    import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'),
  'monitoring.coreos.com/v1/PrometheusRule': () =>
    import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule'),
};

async function modelOf(object: KubernetesObject) {
  const load = models[`${object.apiVersion}/${object.kind}`];
  if (!load) throw new Error(`no schema for ${object.apiVersion} ${object.kind}: add it to the models table`);
  const module = await load();
  return module[object.kind] as new (
    data: unknown,
  ) => { validate(): void };
}

const rendered = {} as Record<Overlay, KubernetesObject[]>;
const kinds = (objects: KubernetesObject[], kind: string) => objects.filter((object) => object.kind === kind);
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are plain YAML.
type Any = any;

beforeAll(async () => {
  for (const overlay of overlays) rendered[overlay] = await render(overlay);
}, 60_000);

describe.each(overlays)('the %s overlay', (overlay) => {
  it('renders objects that validate against the Kubernetes schemas', async () => {
    expect(rendered[overlay].length).toBeGreaterThan(0);
    for (const object of rendered[overlay]) {
      const Model = await modelOf(object);
      expect(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
  });

  it('commits no secret data and pins every image', () => {
    for (const secret of kinds(rendered[overlay], 'Secret') as Any[]) {
      expect(secret.data ?? {}, secret.metadata.name).toEqual({});
      expect(secret.stringData ?? {}, secret.metadata.name).toEqual({});
    }
    for (const deployment of kinds(rendered[overlay], 'Deployment') as Any[]) {
      for (const container of deployment.spec.template.spec.containers) {
        expect(container.image, deployment.metadata.name).toMatch(
          /(:(?!latest$)[\w.-]+$)|(@sha256:[a-f0-9]{64}$)/,
        );
      }
    }
  });

  it('gives every Deployment probes, resources, a locked-down security context, a drain and a PDB', () => {
    const objects = rendered[overlay];
    const deployments = kinds(objects, 'Deployment') as Any[];
    if (overlay !== 'live') expect(deployments).toHaveLength(4);
    const executionDeadlineSeconds = 15;
    for (const deployment of deployments) {
      const name = deployment.metadata.name;
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
        expect(container[probe], `${name} ${probe}`).toBeDefined();
      expect(container.readinessProbe.httpGet.path).toBe('/health/ready');
      for (const kind of ['requests', 'limits'])
        expect(Object.keys(container.resources[kind] ?? {}).sort(), `${name} ${kind}`).toEqual([
          'cpu',
          'memory',
        ]);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.lifecycle.preStop).toBeDefined();
      const preStopSeconds = Number(container.lifecycle.preStop.exec.command.at(-1));
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
        preStopSeconds + executionDeadlineSeconds + 1,
      );
      expect(pod.topologySpreadConstraints.map((c: Any) => c.topologyKey).sort()).toEqual([
        'kubernetes.io/hostname',
        'topology.kubernetes.io/zone',
      ]);
      const podLabels = deployment.spec.template.metadata.labels;
      const budgets = (kinds(objects, 'PodDisruptionBudget') as Any[]).filter((pdb) =>
        Object.entries(pdb.spec.selector.matchLabels).every(([key, value]) => podLabels[key] === value),
      );
      expect(budgets, `${name} PodDisruptionBudget`).toHaveLength(1);
    }
  });

  it('scales every request-serving Deployment on CPU and requests per second', () => {
    const autoscalers = kinds(rendered[overlay], 'HorizontalPodAutoscaler') as Any[];
    const targets = autoscalers.map((hpa) => hpa.spec.scaleTargetRef.name).sort();
    const serving = (kinds(rendered[overlay], 'Deployment') as Any[])
      .map((deployment) => deployment.metadata.name as string)
      .filter((name) => !name.includes('indexer'))
      .sort();
    expect(targets).toEqual(serving);
    for (const hpa of autoscalers)
      expect(hpa.spec.metrics.map((metric: Any) => metric.type).sort()).toEqual(['Pods', 'Resource']);
  });

  it('scrapes /metrics on the port each process serves it on, never on the client port', () => {
    const objects = rendered[overlay];
    const configMaps = new Map(
      (kinds(objects, 'ConfigMap') as Any[]).map((map) => [map.metadata.name, map.data]),
    );
    for (const deployment of kinds(objects, 'Deployment') as Any[]) {
      const container = deployment.spec.template.spec.containers[0];
      const env: Record<string, string> = Object.assign(
        {},
        ...(container.envFrom ?? []).map((from: Any) => configMaps.get(from.configMapRef?.name) ?? {}),
        ...(container.env ?? []).map((variable: Any) => ({ [variable.name]: variable.value })),
      );
      const metricsPort = container.ports.find((port: Any) => port.name === 'metrics')?.containerPort;
      const name = deployment.metadata.name as string;
      // The indexer has no clients: its one port serves metrics and health. The others have METRICS_PORT,
      // bound beyond loopback so that Prometheus reaches it.
      if (name.includes('indexer')) expect(Number(env.INDEXER_PORT), name).toBe(metricsPort);
      else {
        expect(Number(env.METRICS_PORT), name).toBe(metricsPort);
        expect(env.METRICS_HOST, name).toBe('0.0.0.0');
        const client = container.ports.find((port: Any) => port.name === 'http')?.containerPort;
        expect(client, name).not.toBe(metricsPort);
      }
    }
    for (const service of kinds(objects, 'Service') as Any[]) {
      const metrics = service.spec.ports.find((port: Any) => port.name === 'metrics');
      if (metrics) expect(metrics.targetPort, service.metadata.name).toBe('metrics');
    }
    const monitors = kinds(objects, 'ServiceMonitor') as Any[];
    if (kinds(objects, 'Deployment').length > 0) expect(monitors.length).toBeGreaterThan(0);
    for (const monitor of monitors)
      expect(monitor.spec.endpoints.map((endpoint: Any) => [endpoint.port, endpoint.path])).toEqual([
        ['metrics', '/metrics'],
      ]);
  });
});

describe('network policies', () => {
  const quarry = (name: string, ports: number[], colour?: string): Endpoint => ({
    name,
    namespace: 'quarry',
    labels: {
      'app.kubernetes.io/name': `quarry-${name.replace(/-(blue|green)$/, '')}`,
      'app.kubernetes.io/part-of': 'quarry',
      ...(colour ? { 'quarry.example.com/colour': colour } : {}),
    },
    ports: [...ports, 9464].map((port) => ({ port, protocol: 'TCP' })),
  });
  const outside = (name: string, namespace: string, labels: Record<string, string>, ports: number[]) => ({
    name,
    namespace,
    labels,
    ports: ports.map((port) => ({ port, protocol: 'TCP' })),
  });
  const neighbours: Endpoint[] = [
    outside('ingress', 'ingress-nginx', { 'app.kubernetes.io/name': 'ingress-nginx' }, [443]),
    outside('prometheus', 'monitoring', { 'app.kubernetes.io/name': 'prometheus' }, [9090]),
    outside('otel', 'observability', { 'app.kubernetes.io/name': 'otel-collector' }, [4317, 4318]),
    {
      ...outside('dns', 'kube-system', { 'k8s-app': 'kube-dns' }, [53]),
      ports: [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
    },
    outside('mongodb', 'quarry-data', { 'app.kubernetes.io/name': 'mongodb' }, [27017]),
    outside('elasticsearch', 'quarry-data', { 'app.kubernetes.io/name': 'elasticsearch' }, [9200]),
    outside('redis', 'quarry-data', { 'app.kubernetes.io/name': 'redis' }, [6379]),
    outside('stranger', 'quarry', { app: 'stranger' }, [8080]),
    outside('other-tenant-app', 'default', { app: 'web' }, [80]),
    { ...outside('internet', '', {}, [443]), address: '203.0.113.10' },
  ];

  /** The edges the design allows, for one set of Quarry pods. */
  function intended(pods: Record<'gateway' | 'documents' | 'search' | 'indexer', string>): string[] {
    const edges = [`ingress -> ${pods.gateway}:4000/TCP`];
    edges.push(`${pods.gateway} -> ${pods.documents}:4001/TCP`, `${pods.gateway} -> ${pods.search}:4002/TCP`);
    edges.push(`${pods.gateway} -> redis:6379/TCP`);
    for (const pod of [pods.documents, pods.search, pods.indexer])
      edges.push(
        `${pod} -> mongodb:27017/TCP`,
        `${pod} -> elasticsearch:9200/TCP`,
        `${pod} -> redis:6379/TCP`,
      );
    for (const pod of Object.values(pods)) {
      edges.push(
        `${pod} -> dns:53/UDP`,
        `${pod} -> dns:53/TCP`,
        `${pod} -> otel:4317/TCP`,
        `${pod} -> otel:4318/TCP`,
      );
      edges.push(`prometheus -> ${pod}:9464/TCP`);
    }
    return edges;
  }

  it('allow exactly the intended edges in production', () => {
    const pods = { gateway: 'gateway', documents: 'documents', search: 'search', indexer: 'indexer' };
    const endpoints = [
      quarry('gateway', [4000]),
      quarry('documents', [4001]),
      quarry('search', [4002]),
      quarry('indexer', []),
      ...neighbours,
    ];
    const policies = kinds(rendered.production, 'NetworkPolicy');
    expect(allowedEdges(endpoints, policies).sort()).toEqual(intended(pods).sort());
  });

  it('allow exactly the intended edges for both colours of a blue-green deployment', () => {
    const colours = ['blue', 'green'] as const;
    const endpoints = [
      ...colours.flatMap((colour) => [
        quarry(`gateway-${colour}`, [4000], colour),
        quarry(`documents-${colour}`, [4001], colour),
        quarry(`search-${colour}`, [4002], colour),
        quarry(`indexer-${colour}`, [], colour),
      ]),
      ...neighbours,
    ];
    // The colours share one set of policies, so a gateway may reach either colour's subgraphs; its
    // DOCUMENTS_URL and SEARCH_URL name its own.
    const crossColour = colours.flatMap((from) =>
      colours
        .filter((to) => to !== from)
        .flatMap((to) => [
          `gateway-${from} -> documents-${to}:4001/TCP`,
          `gateway-${from} -> search-${to}:4002/TCP`,
        ]),
    );
    const expected = [
      ...colours.flatMap((colour) =>
        intended({
          gateway: `gateway-${colour}`,
          documents: `documents-${colour}`,
          search: `search-${colour}`,
          indexer: `indexer-${colour}`,
        }),
      ),
      ...crossColour,
    ];
    const policies = kinds(rendered.live, 'NetworkPolicy');
    expect(kinds(rendered.blue, 'NetworkPolicy')).toEqual([]);
    expect(allowedEdges(endpoints, policies).sort()).toEqual(expected.sort());
  });
});

describe('blue-green', () => {
  it("gives each colour its own selectors, so the live Service's selector is the whole cut-over", () => {
    const live = kinds(rendered.live, 'Service') as Any[];
    expect(live.map((service) => service.spec.selector)).toEqual([
      { 'app.kubernetes.io/name': 'quarry-gateway', 'quarry.example.com/colour': 'blue' },
    ]);
    for (const colour of ['blue', 'green'] as const) {
      const gateway = (kinds(rendered[colour], 'Deployment') as Any[]).find(
        (deployment) => deployment.metadata.name === `quarry-gateway-${colour}`,
      );
      expect(gateway.spec.selector.matchLabels['quarry.example.com/colour']).toBe(colour);
      const environment = kinds(rendered[colour], 'ConfigMap').find((map) =>
        map.metadata.name.startsWith('quarry-environment'),
      ) as Any;
      expect(environment.data.DOCUMENTS_URL).toBe(`https://quarry-documents-${colour}:4001/graphql`);
    }
  });
});

it('the PrometheusRule holds exactly the alert rules Prometheus loads', () => {
  const alerts = parseYaml(
    readFileSync(new URL('../../deploy/observability/alerts.yml', import.meta.url), 'utf8'),
  );
  const [rule] = kinds(rendered.production, 'PrometheusRule') as Any[];
  expect(rule.spec.groups).toEqual(alerts.groups);
});

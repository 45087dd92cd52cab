/**
 * A small model of Kubernetes NetworkPolicy semantics, enough to compute which
 * connections a set of policies allows between named endpoints: a policy
 * selects pods of its own namespace; a selected pod accepts (or opens) only
 * what some rule of some policy of that direction allows, and an unselected
 * one is open. A connection needs both the source's egress and the
 * destination's ingress. (No library models this offline; cluster-side
 * tools need a cluster.)
 */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are plain YAML.
  spec?: any;
}

interface Port {
  port: number;
  protocol: string;
}

export interface Endpoint {
  name: string;
  /** Empty for an address outside the cluster. */
  namespace: string;
  labels: Record<string, string>;
  ports: Port[];
  /** Set for an address outside the cluster, matched by ipBlock peers only. */
  address?: string;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: { port?: number | string; protocol?: string; endPort?: number }[];
}

function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = key in labels;
    const holds =
      operator === 'In'
        ? has && values.includes(labels[key] as string)
        : operator === 'NotIn'
          ? !has || !values.includes(labels[key] as string)
          : operator === 'Exists'
            ? has
            : !has;
    if (!holds) return false;
  }
  return true;
}

const ipv4 = (address: string) => address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);

function inCidr(address: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(base) / size);
}

function peerMatches(peer: Peer, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock) {
    if (endpoint.address === undefined) return false;
    const { cidr, except = [] } = peer.ipBlock;
    return (
      inCidr(endpoint.address, cidr) &&
      !except.some((excluded) => inCidr(endpoint.address as string, excluded))
    );
  }
  if (endpoint.address !== undefined) return false;
  const namespaceLabels = { 'kubernetes.io/metadata.name': endpoint.namespace };
  const namespaceMatches = peer.namespaceSelector
    ? selects(peer.namespaceSelector, namespaceLabels)
    : endpoint.namespace === policyNamespace;
  return namespaceMatches && selects(peer.podSelector, endpoint.labels);
}

function portMatches(rule: Rule, port: Port): boolean {
  if (!rule.ports || rule.ports.length === 0) return true;
  return rule.ports.some((allowed) => {
    if (typeof allowed.port === 'string')
      throw new Error(`named port ${allowed.port}: use numbers in policies`);
    const protocol = allowed.protocol ?? 'TCP';
    const from = allowed.port;
    const to = allowed.endPort ?? from;
    return (
      protocol === port.protocol && (from === undefined || (port.port >= from && port.port <= (to as number)))
    );
  });
}

/** Whether `pod`'s side of the connection lets it through, in one direction. */
function permits(
  policies: KubernetesObject[],
  direction: 'Ingress' | 'Egress',
  pod: Endpoint,
  peer: Endpoint,
  port: Port,
): boolean {
  if (pod.address !== undefined) return true;
  const applying = policies.filter(
    (policy) =>
      (policy.metadata.namespace ?? 'quarry') === pod.namespace &&
      (policy.spec.policyTypes ?? ['Ingress']).includes(direction) &&
      selects(policy.spec.podSelector, pod.labels),
  );
  if (applying.length === 0) return true;
  return applying.some((policy) => {
    const rules: Rule[] = (direction === 'Ingress' ? policy.spec.ingress : policy.spec.egress) ?? [];
    const namespace = policy.metadata.namespace ?? 'quarry';
    return rules.some((rule) => {
      const peers = direction === 'Ingress' ? rule.from : rule.to;
      const peerAllowed = !peers || peers.length === 0 || peers.some((p) => peerMatches(p, namespace, peer));
      return peerAllowed && portMatches(rule, port);
    });
  });
}

/** Every allowed `source -> destination:port/protocol` where source and destination differ. */
export function allowedEdges(endpoints: Endpoint[], policies: KubernetesObject[]): string[] {
  const edges: string[] = [];
  for (const source of endpoints) {
    for (const destination of endpoints) {
      if (source === destination) continue;
      // Only Quarry's namespace is governed here; traffic between outside endpoints is not ours to test.
      if (source.namespace !== 'quarry' && destination.namespace !== 'quarry') continue;
      for (const port of destination.ports) {
        if (
          permits(policies, 'Egress', source, destination, port) &&
          permits(policies, 'Ingress', destination, source, port)
        )
          edges.push(`${source.name} -> ${destination.name}:${port.port}/${port.protocol}`);
      }
    }
  }
  return edges;
}

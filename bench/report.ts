import type { PhaseResult } from './load-runner.ts';
import type { BenchResult, GatewayName, ScenarioResult } from './run.ts';
import { type ScenarioName, scenarioTitles, victimRate } from './scenarios.ts';

const gatewayLabels: Record<GatewayName, string> = {
  quarry: 'Quarry',
  'quarry-nocache': 'Quarry, response cache off',
  'quarry-local': 'Quarry, one replica without Redis',
  apollo: '@apollo/gateway (plain)',
  'hive-cache': 'Hive Gateway, response cache in memory',
  'hive-cache-redis': 'Hive Gateway, response cache in Redis',
  'hive-rust': 'Hive Gateway, Rust query planner, response cache in memory',
  ceiling: 'bare node:http (ceiling)',
};

const fixed1 = (value: number) => value.toFixed(1);
const whole = (value: number) => Math.round(value).toLocaleString('en-US');
const latency = (phase: PhaseResult) =>
  `${fixed1(phase.latencyMs.p50)} / ${fixed1(phase.latencyMs.p95)} / ${fixed1(phase.latencyMs.p99)}`;
const inGateway = (result: ScenarioResult) =>
  result.fixedInGateway
    ? `${result.fixedInGateway.p50.toFixed(2)} / ${result.fixedInGateway.p99.toFixed(2)}`
    : '–';
const failures = (phase: PhaseResult) => phase.non2xx + phase.graphqlErrors + phase.socketErrors;

function calls(result: ScenarioResult): string {
  const entries = Object.entries(result.backendCallsPerRequest).filter(([method]) =>
    ['search', 'findByIds', 'create'].includes(method),
  );
  return entries.length ? entries.map(([method, n]) => `${method} ${n.toFixed(2)}`).join(', ') : '–';
}

function scenarioTable(result: BenchResult, scenario: ScenarioName): string {
  const rows = [
    '| gateway | max req/s | good req/s at max | p50 / p95 / p99 ms at max | fixed req/s (target) | p50 / p95 / p99 ms at fixed (open loop) | p50 / p99 ms at fixed, in the request handler | errors | hit rate | peak RSS MiB | gateway CPU ms/req | subgraph CPU ms/req (docs + search) | backend calls/req |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const [name, gateway] of Object.entries(result.gateways) as [
    GatewayName,
    NonNullable<BenchResult['gateways'][GatewayName]>,
  ][]) {
    const r = gateway.scenarios[scenario];
    if (!r) continue;
    const fixed = r.fixed;
    const errorCount = failures(r.max) + (fixed ? failures(fixed) : 0);
    rows.push(
      `| ${gatewayLabels[name]} | ${whole(r.max.rps)} | ${whole(r.max.goodRps)} | ${latency(r.max)} | ${fixed ? `${whole(fixed.rps)} (${whole(fixed.targetRate ?? 0)})` : '–'} | ${fixed ? latency(fixed) : '–'} | ${inGateway(r)} | ${errorCount} | ${r.hitRate === undefined ? '–' : `${(r.hitRate * 100).toFixed(0)}%`} | ${whole(r.peakRssMb)} | ${r.cpuMsPerRequest.toFixed(2)} | ${r.subgraphCpuMsPerRequest.documents.toFixed(2)} + ${r.subgraphCpuMsPerRequest.search.toFixed(2)} | ${calls(r)} |`,
    );
  }
  return rows.join('\n');
}

function summaryTable(result: BenchResult): string {
  const names = Object.keys(result.gateways) as GatewayName[];
  const rows = [
    `| scenario | ${names.map((name) => gatewayLabels[name]).join(' | ')} |`,
    `| --- | ${names.map(() => '---:').join(' | ')} |`,
  ];
  for (const scenario of result.options.scenarios) {
    const cells = names.map((name) => {
      const r = result.gateways[name]?.scenarios[scenario];
      if (!r) return '–';
      const p99 = r.fixed ? ` · p99 ${fixed1(r.fixed.latencyMs.p99)}` : '';
      const failing = r.max.goodRps < r.max.rps - 0.5 ? ` (of ${whole(r.max.rps)})` : '';
      return `${whole(r.max.goodRps)}${failing}${p99} · ${r.cpuMsPerRequest.toFixed(2)} ms CPU`;
    });
    rows.push(`| ${scenario} | ${cells.join(' | ')} |`);
  }
  return rows.join('\n');
}

/** The issue's targets, checked against this run only (a busy machine moves all of them). */
function targets(result: BenchResult): string[] {
  const lines: string[] = [];
  const quarry = result.gateways.quarry;
  if (!quarry) return lines;
  const check = (ok: boolean) => (ok ? 'met' : '**not met**');
  const ratioTo = (peer: GatewayName, scenario: ScenarioName, target: number, label: string) => {
    const ours = quarry.scenarios[scenario];
    const theirs = result.gateways[peer]?.scenarios[scenario];
    if (!ours || !theirs || theirs.max.goodRps === 0) return;
    const ratio = ours.max.goodRps / theirs.max.goodRps;
    const short = ratio >= target ? '' : `, short by ${((1 - ratio / target) * 100).toFixed(0)}%`;
    lines.push(`- ${label}: ${ratio.toFixed(2)}× (${check(ratio >= target)}${short})`);
  };
  ratioTo('apollo', 'unique', 2, 'Every request unique ≥ 2× plain @apollo/gateway');
  ratioTo('hive-rust', 'unique', 1.0001, 'Every request unique ahead of Hive Gateway with the Rust planner');
  ratioTo('hive-cache', 'realistic', 1.5, 'Realistic mix ≥ 1.5× Hive Gateway with its response cache');
  ratioTo('apollo', 'realistic', 5, 'Realistic mix ≥ 5× plain @apollo/gateway');
  const realistic = quarry.scenarios.realistic;
  if (realistic?.fixed) {
    const { p50, p99 } = realistic.fixed.latencyMs;
    const ratio = p99 / Math.max(p50, 0.001);
    lines.push(
      `- Realistic mix, open loop at ${Math.round(result.options.rate * 100)}% of the maximum: p99 < 10× p50: ${ratio.toFixed(2)}× (${check(ratio < 10)}; p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms)`,
    );
  }
  const noisy = quarry.scenarios['noisy-neighbour'];
  if (noisy?.fixed && noisy.underFlood) {
    const ratio = noisy.underFlood.latencyMs.p99 / Math.max(noisy.fixed.latencyMs.p99, 0.001);
    lines.push(
      `- Noisy neighbour: victim p99 within 2× of its solo p99: ${ratio.toFixed(2)}× (${check(ratio <= 2)}; solo ${noisy.fixed.latencyMs.p99.toFixed(2)} ms, flooded ${noisy.underFlood.latencyMs.p99.toFixed(2)} ms)`,
    );
  }
  const search = quarry.scenarios.search;
  const cached = quarry.scenarios['search-cached'];
  const ceiling = result.gateways.ceiling?.scenarios['search-cached'];
  if (cached && ceiling) {
    const ratio = cached.max.goodRps / ceiling.max.goodRps;
    lines.push(`- Cached search ≥ 0.5× the bare-HTTP ceiling: ${ratio.toFixed(2)}× (${check(ratio >= 0.5)})`);
    const local = result.gateways['quarry-local']?.scenarios['search-cached'];
    if (local) {
      const localRatio = local.max.goodRps / ceiling.max.goodRps;
      lines.push(
        `  - one replica without Redis (in-process cache and rate limit): ${localRatio.toFixed(2)}× (${check(localRatio >= 0.5)})`,
      );
    }
  }
  if (search?.fixed) {
    const tail = (latency: { p50: number; p99: number }) => latency.p99 / Math.max(latency.p50, 0.001);
    const ratio = tail(search.fixed.latencyMs);
    const { p50, p99 } = search.fixed.latencyMs;
    const refreshes =
      search.responseRefreshes === undefined
        ? ''
        : `; ${whole(search.responseRefreshes)} entries refreshed in the cell`;
    lines.push(
      `- Search p99 < 3× p50 at a fixed 50% rate: ${ratio.toFixed(2)}× (${check(ratio < 3)}; p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms${refreshes})`,
    );
    const { max: speedAtMax, fixed: speedAtFixed } = search.phaseMachineSpeed;
    if (speedAtFixed) {
      const slowdown = speedAtFixed / speedAtMax;
      lines.push(
        `  - machine speed in the fixed-rate phase: ${slowdown.toFixed(2)} of the maximum-throughput phase's${slowdown < 0.85 ? ': the machine slowed down in between, so the fixed rate was a larger share of what it could then serve' : ''}`,
      );
    }
    const described = (times: { p50: number; p99: number }) =>
      `${tail(times).toFixed(2)}× (p50 ${times.p50.toFixed(2)} ms, p99 ${times.p99.toFixed(2)} ms)`;
    if (search.fixedInGateway) {
      lines.push(
        `  - in the gateway's request handler (Node's \`request\` event to the response's \`finish\`; time a request waits before Node parses it is outside): ${described(search.fixedInGateway)}`,
      );
    }
    // The same load on a server that does nothing shows how much of the tail is the machine and the load generator.
    const floor = result.gateways.ceiling?.scenarios.search;
    if (floor?.fixed) {
      const inside = floor.fixedInGateway ? `; in its handler, ${described(floor.fixedInGateway)}` : '';
      lines.push(`  - the bare-HTTP ceiling at the same rate: ${described(floor.fixed.latencyMs)}${inside}`);
    }
  }
  const page = quarry.searchPageCalls;
  if (page) {
    const ok = page.search === 1 && page.findByIds === 1 && Object.keys(page).length === 2;
    lines.push(
      `- One search page = 1 search call + 1 batched document call: ${JSON.stringify(page)} (${check(ok)})`,
    );
  }
  return lines;
}

/** Flags scenarios in which the machine itself changed speed, which would read as one gateway being slower. */
function machineDrift(result: BenchResult): string[] {
  const gateways = Object.entries(result.gateways) as [
    GatewayName,
    NonNullable<BenchResult['gateways'][GatewayName]>,
  ][];
  const lines: string[] = [];
  let worst = 1;
  for (const scenario of result.options.scenarios) {
    const speeds = gateways
      .map(([name, gateway]) => [name, gateway.scenarios[scenario]?.machineSpeed ?? 0] as const)
      .filter(([, speed]) => speed > 0);
    if (speeds.length < 2) continue;
    const first = speeds[0]![1];
    const spread = Math.max(...speeds.map(([, s]) => s)) / Math.min(...speeds.map(([, s]) => s));
    worst = Math.max(worst, spread);
    lines.push(
      `- ${scenario}: ${speeds.map(([name, speed]) => `${gatewayLabels[name]} ${(speed / first).toFixed(2)}`).join(', ')}`,
    );
  }
  if (lines.length === 0) return [];
  return [
    '## Machine speed during the run',
    '',
    "A fixed CPU workload timed just before each cell, relative to the scenario's first gateway:",
    '',
    ...lines,
    '',
    worst > 1.15
      ? `**The machine's speed varied by up to ${((worst - 1) * 100).toFixed(0)}% within a scenario**: req/s measured at different speeds are not comparable; gateway CPU ms per request is steadier, and a rerun on a quiet machine is better.`
      : `It varied by at most ${((worst - 1) * 100).toFixed(0)}% within a scenario: each scenario's gateways ran on a machine of about the same speed.`,
    '',
  ];
}

/** The victim's latency alone and beside the flood, per gateway, and what the flooding tenant got. */
function noisyNeighbour(result: BenchResult): string[] {
  const rows: string[] = [];
  for (const [name, gateway] of Object.entries(result.gateways) as [
    GatewayName,
    NonNullable<BenchResult['gateways'][GatewayName]>,
  ][]) {
    const r = gateway.scenarios['noisy-neighbour'];
    if (!r?.fixed || !r.underFlood || !r.flood) continue;
    const ratio = r.underFlood.latencyMs.p99 / Math.max(r.fixed.latencyMs.p99, 0.001);
    rows.push(
      `| ${gatewayLabels[name]} | ${latency(r.fixed)} | ${latency(r.underFlood)} | ${ratio.toFixed(2)}× | ${failures(r.underFlood)} | ${whole(r.flood.requests)} | ${whole(r.flood.non2xx + r.flood.graphqlErrors + r.flood.socketErrors)} |`,
    );
  }
  if (rows.length === 0) return [];
  return [
    '## Noisy neighbour: the victim alone and while another tenant floods',
    '',
    "The victim's ordinary searches at a fixed rate (open loop), first alone, then while the largest tenant sends expensive searches and oversized queries on its own connections as fast as they are answered. Refusals of the flood are expected; the victim's errors are not.",
    '',
    '| gateway | victim p50 / p95 / p99 ms alone | victim p50 / p95 / p99 ms flooded | flooded p99 ÷ solo p99 | victim errors flooded | flood responses | flood refused or failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ];
}

/** Every scenario in which a peer beat Quarry on max req/s or on fixed-rate p99. */
function peerWins(result: BenchResult): string[] {
  const lines: string[] = [];
  for (const [peer, ratios] of Object.entries(result.ratios) as [
    GatewayName,
    BenchResult['ratios'][GatewayName],
  ][]) {
    if (peer === 'ceiling' || peer.startsWith('quarry')) continue;
    for (const [scenario, ratio] of Object.entries(ratios ?? {})) {
      const how = [
        ...(ratio.goodRps < 1 ? [`${(1 / ratio.goodRps).toFixed(2)}× Quarry's good req/s`] : []),
        ...(ratio.p99Fixed !== undefined && ratio.p99Fixed > 1
          ? [`a fixed-rate p99 ${ratio.p99Fixed.toFixed(2)}× lower`]
          : []),
      ];
      if (how.length > 0) lines.push(`- ${scenario}: ${gatewayLabels[peer]}, ${how.join(' and ')}`);
    }
  }
  return lines;
}

export function renderMarkdown(result: BenchResult): string {
  const o = result.options;
  const m = result.machine;
  const out: string[] = [
    `# Quarry benchmark, ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GiB, Node ${m.node}`,
    `- Load average (1/5/15 min) before: ${m.loadBefore.map(fixed1).join(' / ')}, after: ${m.loadAfter.map(fixed1).join(' / ')}`,
    `- Corpus: ${whole(result.corpus.documents)} documents across ${result.corpus.tenants} tenants (seeded in ${fixed1(result.corpus.seedSeconds)} s, ${whole(result.corpus.databaseMb)} MiB SQLite)`,
    `- Load: ${o.connections} connections, ${o.warmup} s warm-up (discarded), ${o.duration} s at maximum throughput, then ${o.fixedDuration} s at ${Math.round(o.rate * 100)}% of Quarry's maximum, open loop (requests sent on schedule, latency from the scheduled time; \`bench/open-loop.ts\`), from a separate process; the noisy neighbour's victim at ${victimRate} req/s, ${o.victimDuration} s alone and ${o.victimDuration} s flooded`,
    '- Errors count non-2xx responses, GraphQL `errors` in a 2xx body, and socket errors or timeouts.',
    "- Good req/s counts only answers without an error: a refusal is answered faster than a page, so an overloaded gateway's req/s counts its failures as work done. Ratios to the peers compare good req/s.",
    "- Gateway CPU ms/req is the gateway process's user + system CPU over the measured phases (the warm-up excluded) divided by their responses: it moves less than req/s when the machine is busy. Subgraph CPU (each subgraph's process with the worker processes it starts, such as the embedded search's) and backend calls per request are counted over the same phases.",
    "- Fixed req/s is answers over the phase's span, from the first scheduled send to the last answer: a gateway that could not keep up answers below the target, and its latencies include the queue.",
    '- Hit rate is the share of reads answered without a search subgraph request, the same count for every gateway.',
    '',
  ];
  const scenarios = o.scenarios;
  out.push(
    '## Summary',
    '',
    'Good req/s at maximum throughput (of all answers, where some failed), then p99 ms at the fixed rate, then gateway CPU ms per request.',
    '',
    summaryTable(result),
    '',
  );
  for (const scenario of scenarios) {
    out.push(`## ${scenarioTitles[scenario]}`, '', scenarioTable(result, scenario), '');
  }
  out.push(...noisyNeighbour(result));
  const peers = Object.entries(result.ratios) as [GatewayName, BenchResult['ratios'][GatewayName]][];
  if (peers.length > 0) {
    out.push(
      '## Quarry relative to each peer',
      '',
      '(good req/s at maximum throughput: above 1 means Quarry is faster; fixed-rate p99: below 1 means Quarry is faster)',
      '',
    );
    out.push(`| scenario | ${peers.map(([name]) => gatewayLabels[name]).join(' | ')} |`);
    out.push(`| --- | ${peers.map(() => '---:').join(' | ')} |`);
    for (const scenario of scenarios) {
      const cells = peers.map(([, ratios]) => {
        const r = ratios?.[scenario];
        if (!r) return '–';
        return `${r.goodRps.toFixed(2)}× good req/s${r.p99Fixed ? `, p99 ${r.p99Fixed.toFixed(2)}×` : ''}`;
      });
      out.push(`| ${scenario} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  const wins = peerWins(result);
  if (wins.length > 0) {
    out.push(
      '## Where a peer wins (this run)',
      '',
      'Cells where a peer served more good req/s than Quarry, or had a lower fixed-rate p99; docs/benchmarks.md says why.',
      '',
      ...wins,
      '',
    );
  }
  const checks = targets(result);
  if (checks.length > 0) out.push('## Targets (this run)', '', ...checks, '');
  out.push(...machineDrift(result));
  const pages = (
    Object.entries(result.gateways) as [GatewayName, NonNullable<BenchResult['gateways'][GatewayName]>][]
  )
    .filter(([, gateway]) => gateway.searchPageCalls)
    .map(
      ([name, gateway]) =>
        `- ${gatewayLabels[name]}: ${JSON.stringify(gateway.searchPageCalls)}, started in ${fixed1(gateway.startSeconds)} s, VmHWM ${whole(gateway.peakRssMb)} MiB`,
    );
  if (pages.length > 0)
    out.push('## Backend calls for exactly one search page, per gateway', '', ...pages, '');
  return `${out.join('\n')}\n`;
}

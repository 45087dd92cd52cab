/**
 * Summarises V8 CPU profiles written by `npm run bench -- --cpu-prof <dir>`:
 * self time by function and by package, so a slow gateway's hot spots show
 * without opening DevTools. Usage: node bench/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const usage = 'usage: node bench/profile-summary.ts <file.cpuprofile> [top]: one profile at a time';
const [file, topArg, ...rest] = process.argv.slice(2);
const top = Number(topArg ?? 25);
// A glob that matched two profiles would otherwise read the second as `top` and print nothing.
if (!file || rest.length > 0 || !Number.isInteger(top) || top < 1) {
  console.error(usage);
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
});

const where = (url: string) => {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1]!;
  if (url.startsWith('node:')) return url;
  return url ? url.replace(/^file:\/\/.*?\/(gateway|server|subgraphs|bench)\//, '$1/') : '(native)';
};
const functions = new Map<string, number>();
const packages = new Map<string, number>();
let total = 0;
for (const [id, ms] of selfMs) {
  const frame = byId.get(id)!.callFrame;
  const key = `${frame.functionName || '(anonymous)'} ${where(frame.url)}:${frame.lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + ms);
  packages.set(where(frame.url), (packages.get(where(frame.url)) ?? 0) + ms);
  total += ms;
}
const show = (title: string, entries: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, ms] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * ms) / total).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(7)} ms  ${key}`);
  }
};
console.log(`${file}: ${total.toFixed(0)} ms sampled`);
show('Self time by package', packages);
show('Self time by function', functions);

import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';

const run = promisify(execFile);
const script = new URL('../../deploy/kubernetes/blue-green.sh', import.meta.url).pathname;
let stubs: string;

/** kubectl and curl stand-ins that record their arguments, so the procedure's order can be checked without a cluster. */
beforeEach(() => {
  stubs = mkdtempSync(join(tmpdir(), 'quarry-blue-green-'));
  writeFileSync(
    join(stubs, 'kubectl'),
    `#!/usr/bin/env bash
echo "kubectl $*" >> "${stubs}/calls"
if [[ "$*" == *port-forward* ]]; then exec sleep 30; fi
`,
  );
  writeFileSync(
    join(stubs, 'curl'),
    // Like a real port-forward, the health check is refused until the forward is up.
    `#!/usr/bin/env bash
if [[ "$*" == */health/live* ]]; then grep -q port-forward "${stubs}/calls" 2>/dev/null || exit 7; fi
if [[ "$*" == */graphql* ]]; then
  echo "curl graphql" >> "${stubs}/calls"
  if [[ -n "\${SMOKE_FAILS:-}" ]]; then echo '{"errors":[{"message":"down"}]}'; else echo '{"data":{}}'; fi
fi
`,
  );
  for (const stub of ['kubectl', 'curl']) chmodSync(join(stubs, stub), 0o755);
});

afterEach(() => rmSync(stubs, { recursive: true, force: true }));

const calls = () => readFileSync(join(stubs, 'calls'), 'utf8').trim().split('\n');
const environment = (extra: Record<string, string> = {}) => ({
  ...process.env,
  PATH: `${stubs}:${process.env.PATH}`,
  QUARRY_SMOKE_TOKEN: 'token',
  ...extra,
});

it('applies the idle colour, waits for it, smoke-tests it, and only then switches the live Service', async () => {
  await run('bash', [script, 'green'], { env: environment() });
  const recorded = calls();
  expect(recorded[0]).toMatch(/^kubectl apply -k .*overlays\/green$/);
  expect(recorded.slice(1, 5)).toEqual(
    ['gateway', 'documents', 'search', 'indexer'].map(
      (service) => `kubectl -n quarry rollout status deployment/quarry-${service}-green --timeout=10m`,
    ),
  );
  expect(recorded[5]).toContain('port-forward service/quarry-gateway-green');
  expect(recorded.slice(6, 8)).toEqual(['curl graphql', 'curl graphql']);
  expect(recorded[8]).toContain('patch service quarry-gateway-live');
  expect(recorded[8]).toContain('"quarry.example.com/colour":"green"');
  expect(recorded).toHaveLength(9);
});

it('leaves the live Service alone when a smoke query fails', async () => {
  await expect(
    run('bash', [script, 'blue'], { env: environment({ SMOKE_FAILS: '1' }) }),
  ).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringContaining('live Service unchanged'),
  });
  expect(calls().some((call) => call.includes('patch'))).toBe(false);
});

it('refuses a colour that does not exist', async () => {
  await expect(run('bash', [script, 'red'], { env: environment() })).rejects.toMatchObject({ code: 2 });
});

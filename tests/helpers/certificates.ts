import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  /** Files, by name: `ca.pem`, `server.pem`/`server.key`, `client.pem`/`client.key`, `rogue-client.pem`/`.key`. */
  path(name: string): string;
}

function openssl(dir: string, args: string[]) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function issue(dir: string, name: string, ca: string, subject: string) {
  openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    `${name}.pem`,
    '-extfile',
    `${name}.ext`,
  ]);
}

/**
 * A throwaway PKI made with the openssl CLI: one CA signing the services'
 * server certificate (for 127.0.0.1 and localhost) and the gateway's client
 * certificate, and a second, untrusted CA signing a rogue client certificate.
 */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'quarry-pki-'));
  for (const ca of ['ca', 'rogue-ca']) {
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-days',
      '1',
      '-subj',
      `/CN=Quarry test ${ca}`,
    ]);
  }
  const server = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  const client = 'extendedKeyUsage=clientAuth\n';
  await writeFile(join(dir, 'server.ext'), server);
  await writeFile(join(dir, 'client.ext'), client);
  await writeFile(join(dir, 'rogue-client.ext'), client);
  issue(dir, 'server', 'ca', '/CN=localhost');
  issue(dir, 'client', 'ca', '/CN=quarry-gateway');
  issue(dir, 'rogue-client', 'rogue-ca', '/CN=quarry-gateway');
  return { dir, path: (name) => join(dir, name) };
}

import { resolve } from 'node:path';
import { Command } from 'commander';
import {
  DevSigningKeyMissingError,
  ensureDevSigningKey,
  mintDevToken,
  readDevSigningKey,
} from '../server/auth/dev-keys.ts';
import { tenantOption } from './tenant-option.ts';
import { ttlOption } from './ttl-option.ts';

const program = new Command('token')
  .description('Print a development JWT signed by the key under DATA_DIR (npm start creates it)')
  .requiredOption('--tenant <id>', 'tenant_id claim', tenantOption)
  .option('--scopes <scopes>', 'space-separated scopes', 'documents:read documents:write')
  .option('--sub <user>', 'subject claim')
  .option('--ttl <duration>', 'lifetime above zero, such as 15m or 1h', ttlOption, '1h')
  .option('--partner', 'mark the token as a partner client (client_type: partner)', false)
  .option(
    '--create-key',
    'create the key when DATA_DIR has none, before any service starts (the compose dev-keys service)',
    false,
  )
  .parse();

const options = program.opts<{
  tenant: string;
  scopes: string;
  sub?: string;
  ttl: string;
  partner: boolean;
  createKey: boolean;
}>();

try {
  const dataDir = resolve(process.env.DATA_DIR || './data');
  const key = options.createKey ? await ensureDevSigningKey(dataDir) : await readDevSigningKey(dataDir);
  console.log(
    await mintDevToken(key, {
      tenantId: options.tenant,
      scopes: options.scopes.split(' ').filter(Boolean),
      subject: options.sub,
      ttl: options.ttl,
      partner: options.partner,
    }),
  );
} catch (error) {
  if (!(error instanceof DevSigningKeyMissingError)) throw error;
  console.error(`token: ${error.message}`);
  process.exitCode = 1;
}

import { mintDevToken } from '../server/auth/dev-keys.ts';
import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import { runMain } from '../server/process.ts';
import { demoTenants, seedDemoDocuments } from './demo-data.ts';
import { withDevelopmentDefaults } from './dev-environment.ts';
import { startStack } from './stack.ts';

runMain(async () => {
  const { env, devKey } = await withDevelopmentDefaults(process.env);
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel });
  const stack = await startStack({ config, logger });
  if (devKey) {
    const created = await seedDemoDocuments(stack.store);
    const tokens = await Promise.all(
      demoTenants.map((tenantId) => mintDevToken(devKey, { tenantId, ttl: '12h' })),
    );
    const lines = [
      '',
      `Quarry is running. Open the sandbox: ${stack.gatewayUrl}`,
      `Seeded ${created} demo documents (tenants: ${demoTenants.join(', ')}).`,
      'Paste one of these into the sandbox as the header  Authorization: Bearer <token>  (valid 12h):',
      ...demoTenants.map((tenantId, position) => `\n  ${tenantId}:\n  ${tokens[position]}`),
      '',
      'More tokens: npm run token -- --tenant <id>',
      '',
    ];
    console.log(lines.join('\n'));
  } else {
    logger.info({ url: stack.gatewayUrl }, 'quarry running');
  }
  return () => stack.stop();
});

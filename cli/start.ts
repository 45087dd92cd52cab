import { loadConfig } from '../server/config.ts';
import { isLoopbackHost } from '../server/http/loopback.ts';
import { startTracing } from '../server/observability/tracing.ts';
import { runMain } from '../server/process.ts';
import { withDevelopmentDefaults } from './dev-environment.ts';

runMain(async () => {
  const { env, devKey } = await withDevelopmentDefaults(process.env);
  const config = loadConfig(env);
  const tracing = await startTracing({ serviceName: 'quarry', ...config.tracing });
  // Imported only now, so the instrumentations see graphql, undici and http load.
  const { mintDevToken } = await import('../server/auth/dev-keys.ts');
  const { createLogger } = await import('../server/logger.ts');
  const { demoTenants, seedDemoDocuments } = await import('./demo-data.ts');
  const { startStack } = await import('./stack.ts');
  const logger = createLogger({ level: config.logLevel });
  const tokens = devKey
    ? await Promise.all(demoTenants.map((tenantId) => mintDevToken(devKey, { tenantId, ttl: '12h' })))
    : [];
  // Only a development key on a loopback address: the page hands its token to whoever opens it.
  const demoToken = !config.production && isLoopbackHost(config.host) ? tokens[0] : undefined;
  const stack = await startStack({ config, logger, explorer: { demoToken } });
  if (devKey) {
    const created = await seedDemoDocuments(stack.store);
    const lines = [
      '',
      `Quarry is running. Open the explorer: ${stack.gatewayUrl}`,
      `Seeded ${created} demo documents (tenants: ${demoTenants.join(', ')}).`,
      ...(demoToken ? [`The explorer's headers already carry the ${demoTenants[0]} token.`] : []),
      'Send one of these as the header  Authorization: Bearer <token>  (valid 12h):',
      ...demoTenants.map((tenantId, position) => `\n  ${tenantId}:\n  ${tokens[position]}`),
      '',
      'More tokens: npm run token -- --tenant <id>',
      '',
    ];
    console.log(lines.join('\n'));
  } else {
    logger.info({ url: stack.gatewayUrl }, 'quarry running');
  }
  return async () => {
    await stack.stop();
    await tracing.shutdown();
  };
});

import { loadGatewayConfig } from '../server/config.ts';
import { runService } from '../server/run-service.ts';

runService({
  name: 'gateway',
  loadConfig: loadGatewayConfig,
  importApp: async () => (await import('./app.ts')).startGatewayApp,
  listening: 'gateway listening',
});

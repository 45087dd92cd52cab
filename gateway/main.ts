import { runService } from '../server/run-service.ts';

runService({
  name: 'gateway',
  importApp: async () => (await import('./app.ts')).startGatewayApp,
  listening: 'gateway listening',
});

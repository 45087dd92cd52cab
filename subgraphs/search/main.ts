import { runService } from '../../server/run-service.ts';

runService({
  name: 'search',
  importApp: async () => (await import('./app.ts')).startSearchApp,
  listening: 'search subgraph listening',
});

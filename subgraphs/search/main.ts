import { loadSearchConfig } from '../../server/config.ts';
import { runService } from '../../server/run-service.ts';

runService({
  name: 'search',
  loadConfig: loadSearchConfig,
  importApp: async () => (await import('./app.ts')).startSearchApp,
  listening: 'search subgraph listening',
});

import { loadDocumentsConfig } from '../../server/config.ts';
import { runService } from '../../server/run-service.ts';

runService({
  name: 'documents',
  loadConfig: loadDocumentsConfig,
  importApp: async () => (await import('./app.ts')).startDocumentsApp,
  listening: 'documents subgraph listening',
});

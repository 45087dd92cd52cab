import { runService } from '../../server/run-service.ts';

runService({
  name: 'documents',
  importApp: async () => (await import('./app.ts')).startDocumentsApp,
  listening: 'documents subgraph listening',
});

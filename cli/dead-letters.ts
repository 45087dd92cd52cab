import { Command, InvalidArgumentError } from 'commander';
import type { DeadLetter } from '../server/documents/model.ts';
import { openDocumentStore } from '../subgraphs/documents/adapters/index.ts';
import { loadBackendsConfig } from './config.ts';
import { runCli } from './run-cli.ts';

/** The documents store, where the dead letters live beside the outbox, for the length of `work`. */
async function withStore<T>(
  work: (store: Awaited<ReturnType<typeof openDocumentStore>>['store']) => Promise<T>,
) {
  const documents = await openDocumentStore(loadBackendsConfig());
  try {
    return await work(documents.store);
  } finally {
    await documents.close();
  }
}

/** One line of JSON per dead letter: what an operator reads, and what a script can parse. */
const line = (letter: DeadLetter) =>
  JSON.stringify({
    id: letter.id,
    parkedAt: letter.parkedAt.toISOString(),
    tenant: letter.change.tenantId,
    document: letter.change.documentId,
    version: letter.change.version,
    operation: letter.change.operation,
    committedAt: letter.change.committedAt.toISOString(),
    attempts: letter.attempts,
    error: letter.error,
  });

/** A retry or drop of an id that is not parked: one line and exit code 1, as for any expected failure. */
function noSuchDeadLetter(id: string) {
  console.error(`no dead letter ${id}; npm run dead-letters -- list shows the parked ones`);
  process.exitCode = 1;
}

function limitOption(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError('a whole number above zero.');
  return limit;
}

const program = new Command('dead-letters').description(
  'Changes the indexer parked because the search index refused them or kept failing on them',
);

program
  .command('list')
  .description('Print the parked changes, oldest first, one JSON object per line')
  .option('--limit <n>', 'at most this many', limitOption, 100)
  .action(async (options: { limit: number }) =>
    runCli(() =>
      withStore(async (store) => {
        const letters = await store.listDeadLetters(options.limit);
        for (const letter of letters) console.log(line(letter));
        console.error(`${letters.length} of ${await store.countDeadLetters()} dead letters`);
      }),
    ),
  );

program
  .command('retry')
  .description(
    'Put a parked change back at the end of the outbox; the index applies it by version, so it never overwrites a newer one',
  )
  .argument('<id>', 'the id that list prints')
  .action(async (id: string) =>
    runCli(() =>
      withStore(async (store) => {
        if (await store.retryDeadLetter(id)) console.error(`dead letter ${id} is back in the outbox`);
        else noSuchDeadLetter(id);
      }),
    ),
  );

program
  .command('drop')
  .description('Forget a parked change for good (its document keeps whatever the index holds)')
  .argument('<id>', 'the id that list prints')
  .action(async (id: string) =>
    runCli(() =>
      withStore(async (store) => {
        if (await store.dropDeadLetter(id)) console.error(`dead letter ${id} dropped`);
        else noSuchDeadLetter(id);
      }),
    ),
  );

await program.parseAsync();

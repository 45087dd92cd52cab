import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { loadConfig } from '../server/config.ts';
import { openDocumentStore } from '../subgraphs/documents/adapters/index.ts';
import { importDocuments } from '../subgraphs/documents/import.ts';
import { withDevelopmentDefaults } from './dev-environment.ts';
import { runCli } from './run-cli.ts';
import { tenantOption } from './tenant-option.ts';

const program = new Command('import')
  .description('Import a JSONL file of documents into one tenant (the configured document store)')
  .argument('<file>', 'one JSON document per line: {"id"?, "title", "body"?, "tags"?, "author"?, "status"?}')
  .requiredOption('--tenant <id>', 'tenant that receives the documents', tenantOption)
  .option('--concurrency <n>', 'writes in flight at once', '8')
  .parse();

const [file] = program.args as [string];
const options = program.opts<{ tenant: string; concurrency: string }>();

async function countLines(path: string): Promise<number> {
  let lines = 0;
  for await (const _ of createInterface({
    input: createReadStream(path),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    lines += 1;
  }
  return lines;
}

async function main() {
  const { env } = await withDevelopmentDefaults(process.env);
  const config = loadConfig(env);
  const total = await countLines(file);
  const documents = await openDocumentStore(config);
  const bar = new SingleBar({
    format: 'import [{bar}] {percentage}% | {value}/{total} lines | {eta_formatted} left',
    stream: process.stderr,
  });
  const badLines: string[] = [];
  bar.start(total, 0);
  let done = 0;
  try {
    const result = await importDocuments({
      store: documents.store,
      tenantId: options.tenant,
      lines: createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY }),
      concurrency: Math.max(1, Number(options.concurrency) || 8),
      progress: {
        line: () => bar.update(++done),
        bad: (lineNumber, reason) => badLines.push(`${file}:${lineNumber}: ${reason}`),
      },
    });
    bar.stop();
    for (const line of badLines.sort((a, b) => lineOf(a) - lineOf(b))) console.error(line);
    console.error(
      `imported ${result.written}, already present ${result.existing}, bad lines ${result.bad} (not written)`,
    );
    process.exitCode = result.bad > 0 ? 2 : 0;
  } finally {
    bar.stop();
    await documents.close();
  }
}

await runCli(main);

function lineOf(message: string): number {
  return Number(message.slice(file.length + 1).split(':')[0]);
}

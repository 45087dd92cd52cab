import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { openDocumentStore } from '../subgraphs/documents/adapters/index.ts';
import { importDocuments } from '../subgraphs/documents/import.ts';
import { loadBackendsConfig } from './config.ts';
import { runCli } from './run-cli.ts';
import { tenantOption } from './tenant-option.ts';

const program = new Command('import')
  .description('Import a JSONL file of documents into one tenant (the configured document store)')
  .argument(
    '<file>',
    'one JSON document per line: {"id"?, "title", "body"?, "tags"?, "author"?, "status"?}; - (or /dev/stdin) reads standard input',
  )
  .requiredOption('--tenant <id>', 'tenant that receives the documents', tenantOption)
  .option('--concurrency <n>', 'writes in flight at once', '8')
  .option('--upsert', 'write a new version of a document whose id exists with different content', false)
  .parse();

const [file] = program.args as [string];
const options = program.opts<{ tenant: string; concurrency: string; upsert: boolean }>();
// Opening /dev/stdin fails (ENXIO) when standard input is a socket, as some process managers give it.
const readsStandardInput = file === '-' || file === '/dev/stdin';
/** How bad lines are named: `<name>:<line>: <reason>`. */
const inputName = readsStandardInput ? 'stdin' : file;

function linesOf(input: NodeJS.ReadableStream): AsyncIterable<string> {
  return createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
}

/**
 * The lines to import, read once, and their count when it can be known
 * beforehand. A pipe or a FIFO can be read only once, so only a regular file
 * is counted first (for the progress bar's total).
 */
async function openInput(): Promise<{ lines: AsyncIterable<string>; total?: number }> {
  if (readsStandardInput) return { lines: linesOf(process.stdin) };
  if (!(await stat(file)).isFile()) return { lines: linesOf(createReadStream(file)) };
  const total = await countLines(file);
  return { lines: linesOf(createReadStream(file)), total };
}

async function countLines(path: string): Promise<number> {
  let lines = 0;
  for await (const _ of linesOf(createReadStream(path))) lines += 1;
  return lines;
}

async function main() {
  const config = loadBackendsConfig();
  const { lines, total } = await openInput();
  const documents = await openDocumentStore(config);
  const bar = new SingleBar({
    format:
      total === undefined
        ? 'import: {value} lines read'
        : 'import [{bar}] {percentage}% | {value}/{total} lines | {eta_formatted} left',
    stream: process.stderr,
    // Also when stderr is a pipe or a log (docker compose exec -T): a line every few seconds and a last one.
    noTTYOutput: true,
  });
  const badLines: { lineNumber: number; message: string }[] = [];
  bar.start(total ?? 0, 0);
  let done = 0;
  try {
    const result = await importDocuments({
      store: documents.store,
      tenantId: options.tenant,
      lines,
      concurrency: Math.max(1, Number(options.concurrency) || 8),
      upsert: options.upsert,
      progress: {
        line: () => bar.update(++done),
        bad: (lineNumber, reason) =>
          badLines.push({ lineNumber, message: `${inputName}:${lineNumber}: ${reason}` }),
      },
    });
    bar.stop();
    badLines.sort((a, b) => a.lineNumber - b.lineNumber);
    for (const { message } of badLines) console.error(message);
    console.error(
      `imported ${result.written}, updated ${result.updated}, already present ${result.existing}, bad lines ${result.bad} (not written)`,
    );
    process.exitCode = result.bad > 0 ? 2 : 0;
  } finally {
    bar.stop();
    await documents.close();
  }
}

await runCli(main);

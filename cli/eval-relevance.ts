import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Command } from 'commander';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevSigningKey, mintDevToken } from '../server/auth/dev-keys.ts';
import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import { importDocuments } from '../subgraphs/documents/import.ts';
// The same per-run database and index prefix the test stacks use on MONGO_URL / ELASTICSEARCH_URL, dropped after.
import { productionBackendEnvironment } from '../tests/helpers/backends.ts';
import { type Judgments, measureRun, parseQrels } from './relevance/metrics.ts';
import {
  checkAgainstCommitted,
  committedNdcg,
  type ReportRow,
  renderBlock,
  replaceBlock,
} from './relevance/report.ts';
import { runCli } from './run-cli.ts';
import { startStack } from './stack.ts';

const program = new Command('eval:relevance')
  .description(
    'Import a test collection into a fresh Quarry, send every query through the gateway, and score the rankings',
  )
  .argument('<dir>', 'a folder with corpus.jsonl, queries.jsonl, qrels.tsv and optionally baseline.json')
  .option('--check', 'fail if nDCG@10 is more than 0.01 below the figure in the report; write nothing', false)
  .option('--report <file>', 'the Markdown file that keeps the figures', 'docs/relevance.md')
  .option('--no-typo-tolerance', 'send every query with typoTolerance: false, into a block of its own')
  .parse();

const [collectionDir] = program.args as [string];
const options = program.opts<{ check: boolean; report: string; typoTolerance: boolean }>();

const tenantId = 'relevance-eval';
/** The deepest metric looks at the top 100, which is also the largest page the API gives. */
const depth = 100;
const queriesInFlight = 4;

interface Collection {
  name: string;
  corpusLines: string[];
  queries: { id: string; text: string }[];
  judgments: Judgments;
  baseline?: ReportRow;
}

async function readCollection(dir: string): Promise<Collection> {
  const read = (file: string) => readFile(join(dir, file), 'utf8');
  const lines = (text: string) => text.split('\n').filter((line) => line.trim());
  const baseline = await read('baseline.json').then(
    (text) => ({ label: 'plain BM25 baseline', ...JSON.parse(text) }) as ReportRow,
    () => undefined,
  );
  return {
    name: basename(resolve(dir)),
    corpusLines: lines(await read('corpus.jsonl')),
    queries: lines(await read('queries.jsonl')).map((line) => {
      const { id, text } = JSON.parse(line) as { id: string | number; text: string };
      return { id: String(id), text };
    }),
    judgments: parseQrels(await read('qrels.tsv')),
    baseline,
  };
}

const searchOperation = `query RelevanceEval($query: String!, $first: Int!, $typoTolerance: Boolean!) {
  search(query: $query, first: $first, typoTolerance: $typoTolerance) { hits { document { id } } }
}`;

/** One query as a client sends it: over HTTP to the gateway, with a bearer token. */
async function rankingOf(gatewayUrl: string, token: string, text: string): Promise<string[]> {
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: searchOperation,
      variables: { query: text, first: depth, typoTolerance: options.typoTolerance },
    }),
  });
  const payload = (await response.json()) as {
    data?: { search: { hits: { document: { id: string } | null }[] } } | null;
    errors?: { message: string }[];
  };
  if (payload.errors?.length || !payload.data) {
    throw new Error(`query "${text}" failed: ${payload.errors?.[0]?.message ?? response.status}`);
  }
  return payload.data.search.hits.flatMap((hit) => (hit.document ? [hit.document.id] : []));
}

async function runQueries(collection: Collection, gatewayUrl: string, token: string) {
  const rankings = new Map<string, string[]>();
  const pending = [...collection.queries];
  const worker = async () => {
    for (let query = pending.shift(); query; query = pending.shift()) {
      rankings.set(query.id, await rankingOf(gatewayUrl, token, query.text));
    }
  };
  await Promise.all(Array.from({ length: queriesInFlight }, worker));
  return rankings;
}

async function main() {
  const collection = await readCollection(collectionDir);
  const dataDir = await mkdtemp(join(tmpdir(), 'quarry-eval-'));
  const backends = productionBackendEnvironment();
  try {
    const devKey = await ensureDevSigningKey(dataDir);
    const config = loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      JWT_JWKS_FILE: devKey.jwksPath,
      JWT_ISSUER: DEV_ISSUER,
      JWT_AUDIENCE: DEV_AUDIENCE,
      PORT: '0',
      DOCUMENTS_PORT: '0',
      SEARCH_PORT: '0',
      INDEXER_PORT: '0',
      // One client sending a whole query set is what the evaluation is, not abuse to throttle.
      RATE_LIMIT_TIERS: 'standard=100000/100000',
      ...backends.env,
    });
    const backend = `${config.elasticsearch ? 'elasticsearch' : 'embedded'}${options.typoTolerance ? '' : ', typo tolerance off'}`;
    const stack = await startStack({ config, logger: createLogger({ level: 'silent' }) });
    try {
      const imported = await importDocuments({
        store: stack.store,
        tenantId,
        lines: collection.corpusLines,
        // Quarry refuses what its API refuses (Cranfield has two empty documents): they are reported and skipped.
        progress: { line: () => {}, bad: (line, reason) => console.error(`corpus.jsonl:${line}: ${reason}`) },
      });
      console.error(`imported ${imported.written} documents, skipped ${imported.bad}`);
      await stack.indexer.drain();
      const token = await mintDevToken(devKey, { tenantId, scopes: ['documents:read'] });
      const rankings = await runQueries(collection, stack.gatewayUrl, token);
      const metrics = measureRun(rankings, collection.judgments);
      const emptyPages = [...rankings.values()].filter((ranking) => ranking.length === 0).length;
      await report(collection, backend, { label: `Quarry (${backend})`, ...metrics, emptyPages }, metrics);
    } finally {
      await stack.stop();
    }
  } finally {
    await backends.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function report(
  collection: Collection,
  backend: string,
  row: ReportRow,
  metrics: ReturnType<typeof measureRun>,
) {
  const key = `${collection.name} ${backend}`;
  const figures = `nDCG@10 ${row.ndcgAt10.toFixed(4)}  MAP@100 ${row.mapAt100.toFixed(4)}  Recall@100 ${row.recallAt100.toFixed(4)}  empty pages ${row.emptyPages}`;
  console.log(`${key}: ${figures}`);
  const document = await readFile(options.report, 'utf8').catch(() => '# Relevance\n');
  if (options.check) {
    const failure = checkAgainstCommitted(metrics, committedNdcg(document, key));
    if (failure) throw new CheckFailed(`${key}: ${failure}`);
    return;
  }
  await writeFile(
    options.report,
    replaceBlock(document, key, renderBlock(key, row, collection.baseline, metrics.queries)),
  );
}

/** A failed --check is an expected outcome: one line, exit 1, no stack. */
class CheckFailed extends Error {}

await runCli(async () => {
  try {
    await main();
  } catch (error) {
    if (!(error instanceof CheckFailed)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
});

/**
 * `npm run bench:scale`: how embedded search cost grows with the corpus.
 * For each corpus size it builds a fresh SQLite database through
 * `SqliteSearchIndex.apply` (no HTTP, no documents store), then times
 * `search` for rare, mid-frequency and very common terms, rotating over
 * tenants, both as a plain ranked page and as the UI's page with facets.
 * Natural-language questions (several words, a common one and a misspelled
 * one among them) are timed with typo tolerance on and off.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { DocumentChange } from '../server/documents/model.ts';
import { EmbeddedDatabase } from '../server/embedded/sqlite.ts';
import { SqliteSearchIndex } from '../subgraphs/search/adapters/sqlite-search-index.ts';
import type { FacetField } from '../subgraphs/search/search-index.ts';
import { createCorpus, type TermClass } from './corpus.ts';
import { makeWorkDir } from './processes.ts';

interface ScaleOptions {
  sizes: number[];
  tenants: number;
  queries: number;
  seed: number;
  out: string;
}

interface Latency {
  p50: number;
  p99: number;
  mean: number;
  /** Matches per search, as `total` reports them (capped at 10,000). */
  meanTotal: number;
}

interface SizeResult {
  documents: number;
  buildSeconds: number;
  indexMb: number;
  /** Share of documents containing a term of each class, measured on the corpus generator's output. */
  documentFrequency: Record<TermClass, number>;
  plain: Record<TermClass, Latency>;
  withFacets: Record<TermClass, Latency>;
  /** With facets counted over every match, as the first search of a word after a write to its tenant counts them. */
  withFacetsCounted: Record<TermClass, Latency>;
  /** Natural-language questions, by typo tolerance. */
  questions: Record<'typoOn' | 'typoOff', { plain: Latency; withFacets: Latency }>;
}

const sizesOf = (value: string) =>
  value.split(',').map((item) => {
    const size = Number(item.trim().replace(/k$/i, '000').replace(/m$/i, '000000'));
    if (!Number.isInteger(size) || size <= 0) throw new InvalidArgumentError(`bad corpus size "${item}"`);
    return size;
  });
const positive = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return parsed;
};

const program = new Command('bench:scale')
  .description('Embedded search latency and index size as the corpus grows')
  .option('--sizes <list>', 'corpus sizes, such as 10k,100k,1m', sizesOf, [10_000, 100_000, 1_000_000])
  .option('--tenants <n>', 'tenants the corpus is spread over', positive, 20)
  .option('--queries <n>', 'timed searches per term class and variant', positive, 200)
  .option('--seed <n>', 'corpus PRNG seed', positive, 7)
  .option('--out <dir>', 'where results are written', resolve(import.meta.dirname, 'results'))
  .parse();
const options = program.opts<ScaleOptions>();

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

/** A letter swap inside the word: one edit, so typo tolerance corrects it back. */
const misspelled = (word: string) => `${word.slice(0, 2)}${word[3] ?? ''}${word[2] ?? ''}${word.slice(4)}`;

/**
 * Questions as users type them: stopwords, a very common word, mid-frequency
 * and rare words, a word of the titles, and one mid-frequency word misspelled.
 */
function questions(terms: Record<TermClass, string[]>): string[] {
  return terms.mid.map((mid, i) => {
    const common = terms.common[i % terms.common.length]!;
    const rare = terms.rare[i % terms.rare.length]!;
    const typo = misspelled(terms.mid[(i + 1) % terms.mid.length]!);
    return `how is the ${common} of ${mid} related to ${typo} in the ${rare} runbook`;
  });
}

async function measureSize(documents: number): Promise<SizeResult> {
  const directory = makeWorkDir('quarry-scale-');
  const path = join(directory, 'quarry.db');
  const database = new EmbeddedDatabase(path);
  const index = new SqliteSearchIndex(database);
  // Keeps no facet counts: what a search pays for facets before its words' counts are kept, and after every write.
  const countingIndex = new SqliteSearchIndex(database, { keptFacetsMinDocuments: Number.POSITIVE_INFINITY });
  try {
    const corpus = createCorpus({ documents, tenants: options.tenants, seed: options.seed });
    const classes: TermClass[] = ['rare', 'mid', 'common'];
    const probes = new Map(classes.map((name) => [name, new Set(corpus.terms[name])]));
    const containing: Record<TermClass, number> = { rare: 0, mid: 0, common: 0 };
    const started = performance.now();
    const now = new Date('2026-11-01T00:00:00Z');
    let batch: DocumentChange[] = [];
    let sequence = 0;
    for (const document of corpus.documents()) {
      // Document frequency per class: the share of documents containing at least one term of the class, averaged per term.
      const words = new Set(document.body.split(' '));
      for (const name of classes) {
        let hits = 0;
        for (const term of probes.get(name)!) if (words.has(term)) hits += 1;
        containing[name] += hits / probes.get(name)!.size;
      }
      sequence += 1;
      const updatedAt = new Date(now.getTime() - sequence * 1000);
      batch.push({
        sequence: String(sequence),
        tenantId: document.tenantId,
        documentId: document.id,
        version: 1,
        operation: 'upsert',
        committedAt: updatedAt,
        document: { ...document, version: 1, createdAt: updatedAt, updatedAt },
      });
      if (batch.length === 5000) {
        await index.apply(batch);
        batch = [];
      }
    }
    await index.apply(batch);
    database.connection.exec('PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;');
    const buildSeconds = (performance.now() - started) / 1000;
    const indexMb = statSync(path).size / 2 ** 20;

    const summary = (samples: number[], totals: number): Latency => {
      samples.sort((a, b) => a - b);
      return {
        p50: percentile(samples, 50),
        p99: percentile(samples, 99),
        mean: samples.reduce((a, b) => a + b, 0) / samples.length,
        meanTotal: totals / samples.length,
      };
    };
    /**
     * One latency per typo-tolerance setting, the settings taking turns on each text (in alternating order),
     * so a change in the machine's load during the cell weighs on all of them alike.
     */
    const time = async (
      texts: readonly string[],
      facets: FacetField[],
      typoTolerances: readonly boolean[] = [true],
      searchIndex = index,
    ): Promise<Latency[]> => {
      const run = async (i: number, typoTolerance: boolean) => {
        const t0 = performance.now();
        const page = await searchIndex.search({
          tenantId: corpus.tenants[i % corpus.tenants.length]!,
          text: texts[i % texts.length]!,
          filter: {},
          sort: 'RELEVANCE',
          first: 20,
          facets,
          typoTolerance,
        });
        return { ms: performance.now() - t0, total: page.total };
      };
      // Warm caches and statements.
      for (let i = 0; i < Math.min(20, options.queries); i += 1) {
        for (const typoTolerance of typoTolerances) await run(i + 7, typoTolerance);
      }
      const samples = typoTolerances.map(() => [] as number[]);
      const totals = typoTolerances.map(() => 0);
      for (let i = 0; i < options.queries; i += 1) {
        const turns = typoTolerances.map((typoTolerance, variant) => ({ typoTolerance, variant }));
        if (i % 2 === 1) turns.reverse();
        for (const { typoTolerance, variant } of turns) {
          const { ms, total } = await run(i, typoTolerance);
          samples[variant]!.push(ms);
          totals[variant]! += total;
        }
      }
      return samples.map((variantSamples, variant) => summary(variantSamples, totals[variant]!));
    };
    const plain = {} as Record<TermClass, Latency>;
    const withFacets = {} as Record<TermClass, Latency>;
    const withFacetsCounted = {} as Record<TermClass, Latency>;
    const allFacets: FacetField[] = ['TAGS', 'STATUS', 'AUTHOR'];
    for (const termClass of classes) {
      [plain[termClass]] = (await time(corpus.terms[termClass], [])) as [Latency];
      [withFacets[termClass]] = (await time(corpus.terms[termClass], allFacets)) as [Latency];
      [withFacetsCounted[termClass]] = (await time(
        corpus.terms[termClass],
        allFacets,
        [true],
        countingIndex,
      )) as [Latency];
    }
    const asked = questions(corpus.terms);
    const [plainOn, plainOff] = (await time(asked, [], [true, false])) as [Latency, Latency];
    const [facetsOn, facetsOff] = (await time(asked, allFacets, [true, false])) as [Latency, Latency];
    const typoOn = { plain: plainOn, withFacets: facetsOn };
    const typoOff = { plain: plainOff, withFacets: facetsOff };
    return {
      documents,
      buildSeconds,
      indexMb,
      documentFrequency: {
        rare: containing.rare / documents,
        mid: containing.mid / documents,
        common: containing.common / documents,
      },
      plain,
      withFacets,
      withFacetsCounted,
      questions: { typoOn, typoOff },
    };
  } finally {
    database.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

const startedAt = new Date();
const loadBefore = loadavg();
const results: SizeResult[] = [];
for (const size of options.sizes) {
  process.stderr.write(`[scale] ${size.toLocaleString('en-US')} documents…\n`);
  const result = await measureSize(size);
  process.stderr.write(
    `[scale] built in ${result.buildSeconds.toFixed(1)} s, ${result.indexMb.toFixed(0)} MiB; common p50 ${result.plain.common.p50.toFixed(1)} ms\n`,
  );
  results.push(result);
}

const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(0));
const pct = (value: number) => `${(value * 100).toPrecision(2)}%`;
const cell = (latency: Latency) => `${ms(latency.p50)} / ${ms(latency.p99)}`;
const lines = [
  `# Embedded search scale curve, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  '',
  `- Machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  `- Load average (1/5/15 min) before: ${loadBefore.map((v) => v.toFixed(1)).join(' / ')}, after: ${loadavg()
    .map((v) => v.toFixed(1))
    .join(' / ')}`,
  `- ${options.tenants} tenants, one FTS5 table set per tenant; ${options.queries} timed searches per cell (first: 20, RELEVANCE), rotating over tenants and terms; \`SqliteSearchIndex.search\` called directly, no HTTP`,
  '- "plain" is hits + total; "+ facets" adds TAGS, STATUS and AUTHOR facets over all matches (the search page the UI asks for), with the facet counts of words in 2,000 or more of a tenant\'s documents kept between searches until the tenant\'s next write; "counted" keeps none, as a search pays before its words\' counts are kept and after every write to its tenant',
  '',
  '| documents | index MiB | build s | term class | share of docs with term | mean total | plain p50 / p99 ms | + facets p50 / p99 ms | + facets counted p50 / p99 ms |',
  '| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
];
for (const r of results) {
  for (const termClass of ['rare', 'mid', 'common'] as const) {
    lines.push(
      `| ${r.documents.toLocaleString('en-US')} | ${r.indexMb.toFixed(0)} | ${r.buildSeconds.toFixed(0)} | ${termClass} | ${pct(r.documentFrequency[termClass])} | ${Math.round(r.plain[termClass].meanTotal).toLocaleString('en-US')} | ${cell(r.plain[termClass])} | ${cell(r.withFacets[termClass])} | ${cell(r.withFacetsCounted[termClass])} |`,
    );
  }
}
lines.push(
  '',
  `Natural-language questions ("how is the <common> of <mid> related to <mid, misspelled> in the <rare> runbook": seven words after stopwords), with typo tolerance on and off taking turns on each question:`,
  '',
  '| documents | mean total, on / off | plain p50 / p99 ms, on | plain p50 / p99 ms, off | + facets p50 / p99 ms, on | + facets p50 / p99 ms, off |',
  '| ---: | ---: | ---: | ---: | ---: | ---: |',
);
for (const { documents, questions: q } of results) {
  lines.push(
    `| ${documents.toLocaleString('en-US')} | ${Math.round(q.typoOn.plain.meanTotal).toLocaleString('en-US')} / ${Math.round(q.typoOff.plain.meanTotal).toLocaleString('en-US')} | ${cell(q.typoOn.plain)} | ${cell(q.typoOff.plain)} | ${cell(q.typoOn.withFacets)} | ${cell(q.typoOff.withFacets)} |`,
  );
}
const markdown = `${lines.join('\n')}\n`;
mkdirSync(options.out, { recursive: true });
const stamp = startedAt
  .toISOString()
  .replaceAll(':', '-')
  .replace(/\.\d+Z$/, 'Z');
writeFileSync(
  join(options.out, `scale-${stamp}.json`),
  `${JSON.stringify({ startedAt: startedAt.toISOString(), options, loadBefore, loadAfter: loadavg(), results }, null, 2)}\n`,
);
writeFileSync(join(options.out, `scale-${stamp}.md`), markdown);
writeFileSync(join(options.out, 'scale-latest.md'), markdown);
process.stdout.write(markdown);

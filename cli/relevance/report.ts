import type { MeanMetrics } from './metrics.ts';

/** Figures of one run, or of the baseline, as they appear in docs/relevance.md. */
export interface ReportRow {
  label: string;
  ndcgAt10: number;
  mapAt100: number;
  recallAt100: number;
  /** Queries that came back with no hit at all; absent for the baseline. */
  emptyPages?: number;
}

const figure = (value: number) => value.toFixed(4);

const startMarker = (key: string) => `<!-- eval:relevance ${key} -->`;
const endMarker = (key: string) => `<!-- /eval:relevance ${key} -->`;

/** The block `npm run eval:relevance` owns for one collection and backend, e.g. key `cranfield embedded`. */
export function renderBlock(
  key: string,
  measured: ReportRow,
  baseline: ReportRow | undefined,
  queries: number,
) {
  const row = (r: ReportRow) =>
    `| ${r.label} | ${figure(r.ndcgAt10)} | ${figure(r.mapAt100)} | ${figure(r.recallAt100)} | ${r.emptyPages ?? ''} |`;
  return [
    startMarker(key),
    `Written by \`npm run eval:relevance\`; ${queries} queries with a relevant judgment.`,
    '',
    '| run | nDCG@10 | MAP@100 | Recall@100 | empty pages |',
    '| --- | --- | --- | --- | --- |',
    row(measured),
    ...(baseline ? [row(baseline)] : []),
    endMarker(key),
  ].join('\n');
}

/** Replaces the block for `key`, or appends it under its own heading when the document has none yet. */
export function replaceBlock(document: string, key: string, block: string): string {
  const start = document.indexOf(startMarker(key));
  const end = document.indexOf(endMarker(key));
  if (start >= 0 && end > start) {
    return document.slice(0, start) + block + document.slice(end + endMarker(key).length);
  }
  return `${document.trimEnd()}\n\n## Current figures: ${key}\n\n${block}\n`;
}

/** The measured nDCG@10 committed in the block for `key`, if there is one. */
export function committedNdcg(document: string, key: string): number | undefined {
  const start = document.indexOf(startMarker(key));
  const end = document.indexOf(endMarker(key));
  if (start < 0 || end < start) return undefined;
  const measuredRow = document
    .slice(start, end)
    .split('\n')
    .find((line) => /^\| \S/.test(line) && !line.startsWith('| run ') && !line.startsWith('| ---'));
  const value = Number(measuredRow?.split('|')[2]?.trim());
  return Number.isFinite(value) ? value : undefined;
}

/** How far nDCG@10 may fall below the committed figure before `--check` fails. */
export const allowedNdcgDrop = 0.01;

export function checkAgainstCommitted(
  measured: MeanMetrics,
  committed: number | undefined,
): string | undefined {
  if (committed === undefined) return 'no committed figure to check against; run without --check first';
  if (measured.ndcgAt10 < committed - allowedNdcgDrop) {
    return `nDCG@10 ${figure(measured.ndcgAt10)} is more than ${allowedNdcgDrop} below the committed ${figure(committed)}`;
  }
  return undefined;
}

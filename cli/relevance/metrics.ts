/**
 * Ranking-quality metrics with trec_eval's definitions: ndcg_cut.10 with
 * linear gains, map_cut.100 and recall.100. Judgments are graded gains; a
 * document without a positive gain counts as not relevant.
 */

/** Per query, the gain of each judged document (gain > 0 means relevant). */
export type Judgments = ReadonlyMap<string, ReadonlyMap<string, number>>;

export interface QueryMetrics {
  ndcgAt10: number;
  mapAt100: number;
  recallAt100: number;
}

export interface MeanMetrics extends QueryMetrics {
  /** Queries averaged over: those with at least one relevant judgment. */
  queries: number;
}

const ndcgDepth = 10;
const mapDepth = 100;
const recallDepth = 100;

const discount = (rank: number) => Math.log2(rank + 1);

/** nDCG@10: the ideal ranking orders every relevant judgment by gain, judged or retrieved or not. */
function ndcgAt10(ranking: readonly string[], gains: ReadonlyMap<string, number>): number {
  let dcg = 0;
  ranking.slice(0, ndcgDepth).forEach((id, i) => {
    dcg += (gains.get(id) ?? 0) / discount(i + 1);
  });
  const ideal = [...gains.values()]
    .filter((gain) => gain > 0)
    .sort((a, b) => b - a)
    .slice(0, ndcgDepth);
  const idcg = ideal.reduce((sum, gain, i) => sum + gain / discount(i + 1), 0);
  return idcg > 0 ? dcg / idcg : 0;
}

/** Average precision over the top 100, divided by every relevant document (found or not), as map_cut.100. */
function averagePrecisionAt100(ranking: readonly string[], relevant: ReadonlySet<string>): number {
  let found = 0;
  let precisionSum = 0;
  ranking.slice(0, mapDepth).forEach((id, i) => {
    if (!relevant.has(id)) return;
    found += 1;
    precisionSum += found / (i + 1);
  });
  return relevant.size > 0 ? precisionSum / relevant.size : 0;
}

function recallAt100(ranking: readonly string[], relevant: ReadonlySet<string>): number {
  const found = ranking.slice(0, recallDepth).filter((id) => relevant.has(id)).length;
  return relevant.size > 0 ? found / relevant.size : 0;
}

/** The metrics of one ranking; a document listed twice counts once, at its first rank (trec_eval dedupes runs). */
export function measureQuery(ranking: readonly string[], gains: ReadonlyMap<string, number>): QueryMetrics {
  const unique = [...new Set(ranking)];
  const relevant = new Set([...gains].filter(([, gain]) => gain > 0).map(([id]) => id));
  return {
    ndcgAt10: ndcgAt10(unique, gains),
    mapAt100: averagePrecisionAt100(unique, relevant),
    recallAt100: recallAt100(unique, relevant),
  };
}

/** Means over the queries with a relevant judgment; a query with no ranking scores zero. */
export function measureRun(
  rankings: ReadonlyMap<string, readonly string[]>,
  judgments: Judgments,
): MeanMetrics {
  const sums = { ndcgAt10: 0, mapAt100: 0, recallAt100: 0 };
  let queries = 0;
  for (const [queryId, gains] of judgments) {
    if (![...gains.values()].some((gain) => gain > 0)) continue;
    queries += 1;
    const metrics = measureQuery(rankings.get(queryId) ?? [], gains);
    sums.ndcgAt10 += metrics.ndcgAt10;
    sums.mapAt100 += metrics.mapAt100;
    sums.recallAt100 += metrics.recallAt100;
  }
  const mean = (sum: number) => (queries > 0 ? sum / queries : 0);
  return {
    queries,
    ndcgAt10: mean(sums.ndcgAt10),
    mapAt100: mean(sums.mapAt100),
    recallAt100: mean(sums.recallAt100),
  };
}

/** `query_id<TAB>doc_id<TAB>gain` lines, as in TREC qrels without the iteration column. */
export function parseQrels(text: string): Judgments {
  const judgments = new Map<string, Map<string, number>>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const [queryId, docId, gain] = line.trim().split(/\s+/);
    const value = Number(gain);
    if (!queryId || !docId || !Number.isFinite(value))
      throw new Error(`qrels line ${i + 1}: expected query, document, gain`);
    const gains = judgments.get(queryId) ?? new Map<string, number>();
    gains.set(docId, value);
    judgments.set(queryId, gains);
  });
  return judgments;
}

import type { DocumentRecord, DocumentStatus } from '../server/documents/model.ts';
import type { NewDocument } from '../subgraphs/documents/document-store.ts';

/**
 * A deterministic synthetic corpus: the same seed gives the same documents,
 * so runs on different days and machines search the same data. Body words
 * follow a Zipf law over a synthetic vocabulary, which is what makes
 * "rare", "mid-frequency" and "very common" terms well defined: a word's
 * frequency rank fixes roughly what share of documents contain it.
 */

/** mulberry32: tiny, fast and good enough for test data (not for anything secret). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const onsets = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'tr', 'st', 'pl'];
const vowels = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
const codas = ['', 'n', 'r', 'l', 'x', 'k', 'm'];

/**
 * Pronounceable made-up words, unique after Porter stemming: every word ends in
 * a fixed "q" marker syllable the stemmer leaves alone, so two vocabulary
 * words never collapse into one index term.
 */
function buildVocabulary(size: number, random: () => number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const syllables = 2 + Math.floor(random() * 2);
    let word = '';
    for (let i = 0; i < syllables; i += 1) {
      word += onsets[Math.floor(random() * onsets.length)]!;
      word += vowels[Math.floor(random() * vowels.length)]!;
      word += codas[Math.floor(random() * codas.length)]!;
    }
    words.add(`${word}q`);
  }
  return [...words];
}

/** Real words for titles and tags, so the corpus reads like an engineering wiki. */
const topics = [
  'kubernetes',
  'runbook',
  'postgres',
  'incident',
  'latency',
  'deploy',
  'gateway',
  'billing',
  'invoice',
  'onboarding',
  'migration',
  'backup',
  'cluster',
  'network',
  'security',
  'audit',
  'pipeline',
  'release',
  'cache',
  'search',
  'schema',
  'index',
  'replica',
  'failover',
  'dashboard',
  'alerting',
  'metrics',
  'tracing',
  'payments',
  'checkout',
  'mobile',
  'android',
  'frontend',
  'design',
  'roadmap',
  'quarterly',
  'planning',
  'hiring',
  'budget',
  'contract',
  'vendor',
  'compliance',
  'privacy',
  'retention',
  'archive',
  'storage',
  'queue',
  'kafka',
  'redis',
  'terraform',
  'ansible',
  'certificate',
  'oauth',
  'tokens',
  'webhook',
  'partner',
  'analytics',
  'experiment',
  'pricing',
  'support',
  'escalation',
  'postmortem',
  'capacity',
  'forecast',
];
const tagPool = topics.slice(0, 48);
const statuses: DocumentStatus[] = [
  'PUBLISHED',
  'PUBLISHED',
  'PUBLISHED',
  'PUBLISHED',
  'PUBLISHED',
  'PUBLISHED',
  'PUBLISHED',
  'DRAFT',
  'DRAFT',
  'ARCHIVED',
];
const firstNames = [
  'ada',
  'alan',
  'grace',
  'linus',
  'barbara',
  'ken',
  'margaret',
  'dennis',
  'frances',
  'edsger',
];
const lastNames = [
  'lovelace',
  'turing',
  'hopper',
  'torvalds',
  'liskov',
  'thompson',
  'hamilton',
  'ritchie',
  'allen',
  'dijkstra',
];

export interface CorpusOptions {
  documents: number;
  tenants: number;
  seed?: number;
  /** Distinct body words; ranks in this Zipf vocabulary define term frequency classes. */
  vocabularySize?: number;
  /** `even` (default) gives every tenant the same share; `zipf` gives tenant k a share ∝ 1/(k+1), at least one document. */
  tenantSizes?: 'even' | 'zipf';
}

/** Samples ranks 0..n-1 with probability ∝ 1/(rank+1)^s, by binary search over cumulative weights. */
export function zipfSampler(n: number, s: number): (random: () => number) => number {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let rank = 0; rank < n; rank += 1) {
    sum += 1 / (rank + 1) ** s;
    cumulative[rank] = sum;
  }
  return (random) => {
    const target = random() * sum;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low;
  };
}

/** Tenant sizes ∝ 1/(k+1), each at least one document, summing to `documents`. */
export function zipfTenantSizes(documents: number, tenants: number): number[] {
  const weights = Array.from({ length: tenants }, (_, k) => 1 / (k + 1));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const spare = Math.max(0, documents - tenants);
  const sizes = weights.map((weight) => 1 + Math.floor((spare * weight) / total));
  sizes[0]! += documents - sizes.reduce((sum, size) => sum + size, 0);
  return sizes;
}

export type GeneratedDocument = NewDocument & Pick<DocumentRecord, 'tenantId' | 'id'>;

export interface Corpus {
  tenants: string[];
  /** Documents per tenant; ids are `${tenant}-d${n}` for n below this. */
  documentsPerTenant: number[];
  vocabulary: string[];
  /** Yields the documents in tenant-interleaved order, generating lazily so 1M documents fit in memory. */
  documents(): Generator<GeneratedDocument>;
  /** Query terms by class, chosen by Zipf rank (see termClasses). */
  terms: Record<TermClass, string[]>;
}

export type TermClass = 'rare' | 'mid' | 'common';

/**
 * Zipf ranks per class. With s = 1 over 30k words and ~90 body words per
 * document, rank 0-2 occur in most documents, ranks 200-400 in roughly
 * 2-5%, and ranks 15k-20k in well under 0.1%.
 */
export const termClasses: Record<TermClass, [number, number]> = {
  common: [0, 3],
  mid: [200, 400],
  rare: [15_000, 20_000],
};

/** The word every probe document carries, so a probe tenant's search page has hits to federate. */
export const probeTerm = 'kubernetes';

/**
 * A small tenant of its own per gateway, whose first search page is the
 * counted probe. The subgraphs cache search pages and documents (in Redis in
 * the bench), and all gateways share the same subgraphs, so a page any
 * earlier request asked for (the readiness check, another gateway's probe)
 * would be answered from a cache and count no backend call at all.
 */
export function probeDocuments(gateway: string): GeneratedDocument[] {
  const tenantId = `probe-${gateway}`;
  return Array.from({ length: 5 }, (_, n) => ({
    tenantId,
    id: documentId(tenantId, n),
    title: `${probeTerm} runbook ${n}`,
    body: `How the ${gateway} probe deploys ${probeTerm} workload ${n}`,
    tags: ['probe'],
    author: 'bench.probe',
    status: 'PUBLISHED' as const,
  }));
}

export const tenantName = (index: number) => `tenant-${String(index + 1).padStart(2, '0')}`;
export const documentId = (tenantId: string, n: number) => `${tenantId}-d${n}`;

export function createCorpus(options: CorpusOptions): Corpus {
  const seed = options.seed ?? 7;
  const vocabulary = buildVocabulary(options.vocabularySize ?? 30_000, createRandom(seed));
  const zipfRank = zipfSampler(vocabulary.length, 1);
  const zipfWord = (random: () => number) => vocabulary[zipfRank(random)]!;

  const tenants = Array.from({ length: options.tenants }, (_, i) => tenantName(i));
  const documentsPerTenant =
    options.tenantSizes === 'zipf'
      ? zipfTenantSizes(options.documents, options.tenants)
      : tenants.map(
          (_, i) =>
            Math.floor(options.documents / options.tenants) +
            (i < options.documents % options.tenants ? 1 : 0),
        );
  // Evenly spread, distinct ranks within each class.
  const pickRange = ([from, to]: [number, number], count: number) =>
    Array.from({ length: count }, (_, i) => vocabulary[from + Math.floor((i * (to - from)) / count)]!);

  function* documents(): Generator<GeneratedDocument> {
    const random = createRandom(seed * 7919);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const maxPerTenant = Math.max(0, ...documentsPerTenant);
    for (let n = 0; n < maxPerTenant; n += 1) {
      for (let t = 0; t < tenants.length; t += 1) {
        if (n >= documentsPerTenant[t]!) continue;
        const tenantId = tenants[t]!;
        // Body lengths spread from a line to a few pages: most short, some long (a squared uniform).
        const bodyWords = 10 + Math.floor(random() ** 2 * 250);
        const words: string[] = [];
        for (let w = 0; w < bodyWords; w += 1) words.push(zipfWord(random));
        const titleWords = [pick(topics), zipfWord(random), pick(topics)];
        if (random() < 0.5) titleWords.push(zipfWord(random));
        const tagCount = Math.floor(random() * 5);
        const tags = [...new Set(Array.from({ length: tagCount }, () => pick(tagPool)))];
        yield {
          tenantId,
          id: documentId(tenantId, n),
          title: titleWords.join(' '),
          body: words.join(' '),
          tags,
          author: random() < 0.1 ? null : `${pick(firstNames)}.${pick(lastNames)}`,
          status: pick(statuses),
        };
      }
    }
  }

  return {
    tenants,
    documentsPerTenant,
    vocabulary,
    documents,
    terms: {
      common: pickRange(termClasses.common, 3),
      mid: pickRange(termClasses.mid, 24),
      rare: pickRange(termClasses.rare, 24),
    },
  };
}

import { stemmer } from 'stemmer';
import { allowedEdits, editDistance, type ParsedQuery } from './query-parser.ts';

/**
 * `didYouMean`, the same on every backend: a plain word of the query that
 * none of the tenant's documents holds is replaced by its closest correction
 * that some of them do. Corrections come from the tenant's own index terms
 * under the typo-tolerance rules (`allowedEdits`, first letter kept), and a
 * word the tenant's documents hold is never replaced, however rare.
 */

/** A correction an adapter found for a word: an index term (stemmed), its edit distance and document count. */
export interface CorrectionCandidate {
  term: string;
  distance: number;
  /** Documents of the tenant holding the term. */
  documents: number;
}

/** Fewest edits first, then the term in most documents, then alphabetical: the order corrections are used in. */
export const closestFirst = (a: CorrectionCandidate, b: CorrectionCandidate) =>
  a.distance - b.distance || b.documents - a.documents || a.term.localeCompare(b.term);

/** The plain words typo tolerance may correct: optional, not prefixes, long enough for an edit. */
export const correctableWords = (query: ParsedQuery): string[] =>
  query.optional.filter((term) => !term.prefix && allowedEdits(term.word) > 0).map((term) => term.word);

/** Whether `term` is a correction of `typed` (both index terms) under the rules for `word`. */
export function correctionDistance(word: string, typed: string, term: string): number | undefined {
  const edits = allowedEdits(word);
  if (term[0] !== typed[0]) return undefined;
  const distance = editDistance(typed, term, edits);
  return distance <= edits ? distance : undefined;
}

/**
 * How a corrected index term reads in a query: index terms are stems
 * ("aerodynam", "gatewai"), so the term gets back the ending the user typed,
 * and a final y the stemmer made an i, where that spelling still stems to it
 * ("airodinamic" reads "aerodynamic", "gatway" reads "gateway"), choosing the
 * spelling closest to what was typed.
 */
export function spelledAs(word: string, term: string): string {
  // The y first: of two spellings as close to what was typed, the one with the y is the word.
  const bases = term.endsWith('i') ? [`${term.slice(0, -1)}y`, term] : [term];
  // The stem itself only when no spelling stems back to it: a stem is rarely a word.
  let best = term;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const base of bases) {
    for (let cut = word.length; cut > 0; cut -= 1) {
      const spelling = base + word.slice(cut);
      if (stemmer(spelling) !== term) continue;
      const distance = editDistance(word, spelling, word.length + spelling.length);
      if (distance < bestDistance) {
        best = spelling;
        bestDistance = distance;
      }
    }
  }
  return best;
}

const wordPattern = /[\p{L}\p{N}]+/gu;

/**
 * The query text with each corrected word replaced wherever it appears,
 * everything else as typed; undefined when nothing was corrected.
 */
export function didYouMeanText(text: string, corrections: ReadonlyMap<string, string>): string | undefined {
  if (corrections.size === 0) return undefined;
  return text.replace(wordPattern, (word) => corrections.get(word.toLowerCase()) ?? word);
}

import { stemmer } from 'stemmer';

/**
 * Highlighting shared by every search adapter. Backends bracket matches in
 * private-use characters, which are stripped from documents on the way in, so
 * they can only come from the highlighter; the text is then HTML-escaped and
 * the brackets become <em>. Document text can therefore never inject markup,
 * and every backend returns the same escaping (`&#39;` for `'`, `/` as is),
 * which is why Elasticsearch's own `encoder: html` is not used.
 */
export const markOpen = '\uE000';
export const markClose = '\uE001';
const markers = /[\uE000\uE001]/g;

export const stripMarkers = (text: string) => text.replace(markers, '');

const escapeHtml = (text: string) =>
  text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');

/** A highlighter fragment as safe HTML with matches in <em>. */
export const markedToHtml = (marked: string) =>
  escapeHtml(marked).replaceAll(markOpen, '<em>').replaceAll(markClose, '</em>');

/** The words of a query: letters and digits only, so no backend ever sees query syntax from a user. */
export const tokensOf = (text: string): string[] => text.match(/[\p{L}\p{N}]+/gu) ?? [];

/**
 * How much of a field highlighting reads. Highlighting is work per hit, so
 * it must not grow with the document: matches past this point are not
 * shown. Elasticsearch gets the same bound as `max_analyzed_offset`.
 */
export const highlightWindowChars = 10_000;
/** Words in a body fragment, and how many of them come before its first match. */
const fragmentWords = 24;
const leadWords = 3;

const wordPattern = /[\p{L}\p{N}]+/gu;
const diacritics = /\p{M}+/gu;

/** A query word as highlighting compares it: folded like the index folds words. */
export interface HighlightTerm {
  word: string;
  prefix: boolean;
}

/** Lowercase, diacritics removed and Porter-stemmed, as FTS5's `porter unicode61 remove_diacritics 2` does. */
const fold = (word: string) => word.normalize('NFD').replace(diacritics, '').toLowerCase();

interface Word {
  start: number;
  end: number;
  matched: boolean;
}

/**
 * Finds the query's words in the first `highlightWindowChars` of a text, in
 * one pass: each word is folded and looked up in a set (prefixes are
 * compared one by one, and there are few), so the cost is linear in the
 * window whatever the number of terms or occurrences.
 */
export function createHighlighter(terms: readonly HighlightTerm[]) {
  // The same Porter algorithm FTS5's porter tokenizer implements, so highlights find what matching found.
  const exact = new Set(terms.filter((term) => !term.prefix).map((term) => stemmer(fold(term.word))));
  const prefixes = terms.filter((term) => term.prefix).map((term) => fold(term.word));
  const isMatch = (raw: string) => {
    const folded = fold(raw);
    if (exact.has(stemmer(folded))) return true;
    return prefixes.some((prefix) => folded.startsWith(prefix));
  };
  const wordsOf = (text: string): Word[] =>
    Array.from(text.matchAll(wordPattern), (m) => ({
      start: m.index,
      end: m.index + m[0].length,
      matched: isMatch(m[0]),
    }));
  const mark = (text: string, words: readonly Word[], from: number, to: number) => {
    let marked = '';
    let at = from;
    for (const word of words) {
      if (!word.matched || word.start < from || word.end > to) continue;
      marked += `${text.slice(at, word.start)}${markOpen}${text.slice(word.start, word.end)}${markClose}`;
      at = word.end;
    }
    return marked + text.slice(at, to);
  };
  return {
    /** The whole (windowed) field with every match marked, or undefined without a match. */
    whole(field: string): string | undefined {
      const text = field.slice(0, highlightWindowChars);
      const words = wordsOf(text);
      return words.some((word) => word.matched) ? markedToHtml(mark(text, words, 0, text.length)) : undefined;
    },
    /** The run of `fragmentWords` words with the most matches, with ellipses where text was cut. */
    fragment(field: string): string | undefined {
      const text = field.slice(0, highlightWindowChars);
      const words = wordsOf(text);
      let best = -1;
      let bestCount = 0;
      let count = 0;
      for (let i = 0; i < words.length; i += 1) {
        if (words[i]?.matched) count += 1;
        if (i >= fragmentWords && words[i - fragmentWords]?.matched) count -= 1;
        if (count > bestCount) {
          bestCount = count;
          best = Math.max(0, i - fragmentWords + 1);
        }
      }
      if (best < 0) return undefined;
      // Start a little before the window's first match, so the fragment leads into it.
      const firstMatch = words.findIndex((word, i) => i >= best && word.matched);
      const start = Math.max(0, firstMatch - leadWords);
      const first = words[start] as Word;
      const last = words[Math.min(words.length, start + fragmentWords) - 1] as Word;
      const from = start === 0 ? 0 : first.start;
      const to =
        start + fragmentWords >= words.length && text.length === field.length ? text.length : last.end;
      const marked = mark(text, words, from, to);
      return markedToHtml(`${from > 0 ? '…' : ''}${marked}${to < field.length ? '…' : ''}`);
    },
  };
}

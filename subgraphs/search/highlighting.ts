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

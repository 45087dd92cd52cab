/**
 * Long natural-language text, deterministic per seed: common English words
 * at roughly their real frequencies, so the most common ones ("the", "of")
 * occur thousands of times in a 100 KB body, as in real documents.
 */
const weightedWords: [string, number][] = [
  ['the', 60],
  ['of', 30],
  ['and', 28],
  ['to', 26],
  ['a', 22],
  ['in', 20],
  ['is', 10],
  ['that', 10],
  ['it', 9],
  ['for', 9],
  ['was', 8],
  ['on', 7],
  ['with', 7],
  ['as', 6],
  ['he', 6],
  ['be', 5],
  ['at', 5],
  ['by', 5],
  ['this', 5],
  ['had', 4],
  ['from', 4],
  ['not', 4],
  ['but', 4],
  ['what', 3],
  ['all', 3],
  ['were', 3],
  ['when', 3],
  ['there', 3],
  ['can', 2],
  ['said', 2],
  ['which', 2],
  ['their', 2],
  ['river', 1],
  ['market', 1],
  ['winter', 1],
  ['letter', 1],
  ['garden', 1],
  ['station', 1],
  ['morning', 1],
  ['engine', 1],
];
const table = weightedWords.flatMap(([word, weight]) => Array<string>(weight).fill(word));

/** The words of `naturalText` from most to least common. */
export const commonWords = weightedWords.map(([word]) => word);

export function naturalText(seed: number, length: number): string {
  let state = seed >>> 0;
  const random = () => {
    // mulberry32: a tiny seeded generator, so every run indexes the same text.
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const sentences: string[] = [];
  let size = 0;
  while (size < length) {
    const words = Array.from({ length: 8 + Math.floor(random() * 12) }, () => {
      return table[Math.floor(random() * table.length)] as string;
    });
    const sentence = `${words.join(' ')}.`;
    sentences.push(sentence.charAt(0).toUpperCase() + sentence.slice(1));
    size += sentence.length + 1;
  }
  return sentences.join(' ').slice(0, length);
}

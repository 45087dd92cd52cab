/** The little Markdown reading the documentation tests need: sections, code blocks, links and anchors. */

const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;

/** The text under a heading line, up to the next heading of the same or a higher level outside code. */
export function section(markdown: string, heading: string): string {
  const level = heading.match(/^#+/)?.[0].length ?? 0;
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const body: string[] = [];
  let inFence = false;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('```')) inFence = !inFence;
    const marks = inFence ? undefined : line.match(/^(#+) /)?.[1]?.length;
    if (marks !== undefined && marks <= level) break;
    body.push(line);
  }
  return body.join('\n');
}

export function codeBlocks(markdown: string, language: string): string[] {
  return [...markdown.matchAll(fence)]
    .filter((match) => match[1] === language)
    .map((match) => match[2] ?? '');
}

function withoutCode(markdown: string): string {
  return withoutCodeBlocks(markdown).replace(/`[^`\n]*`/g, '');
}

/** Relative link targets (`[text](target)`), outside code; web and mail links are left out. */
export function relativeLinks(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? '')
    .filter((target) => !/^[a-z]+:/i.test(target));
}

/** The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const match of withoutCodeBlocks(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const text = (match[1] ?? '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    let anchor = base;
    for (let repeat = 1; anchors.has(anchor); repeat += 1) anchor = `${base}-${repeat}`;
    anchors.add(anchor);
  }
  return anchors;
}

function withoutCodeBlocks(markdown: string): string {
  return markdown.replace(fence, '');
}

/** A fenced code block of a Markdown file. */
export interface CodeBlock {
  /** Line of the opening fence, counted from 1. */
  line: number;
  /** The nearest heading above the block, as written (`### Events`). */
  heading: string;
  /** The lines between the fences, as written. */
  lines: string[];
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;
const HEADING = /^ {0,3}#{1,6}\s/;

/** The fenced blocks of `markdown` whose language is `language` (`ts` for ```ts). */
export function fencedBlocks(markdown: string, language: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let heading = '(before the first heading)';
  let open: { fence: string; block: CodeBlock | null } | null = null;
  markdown.split(/\r?\n/).forEach((text, index) => {
    if (open) {
      const closing = text.trim();
      if (closing.startsWith(open.fence) && /^(`+|~+)$/.test(closing)) {
        if (open.block) blocks.push(open.block);
        open = null;
      } else {
        open.block?.lines.push(text);
      }
      return;
    }
    const fence = FENCE.exec(text);
    if (fence) {
      open = { fence: fence[1], block: fence[2] === language ? { line: index + 1, heading, lines: [] } : null };
    } else if (HEADING.test(text)) {
      heading = text.trim();
    }
  });
  return blocks;
}

/** How many of `wanted` (trimmed lines) appear in order among `lines`, counted from the first of `wanted`. */
export function matchedInOrder(wanted: readonly string[], lines: readonly string[]): number {
  let found = 0;
  for (const line of lines) {
    if (found < wanted.length && line.trim() === wanted[found]) found++;
  }
  return found;
}

/**
 * Checks that every block appears in one of the files: its non-blank lines, trimmed, in order
 * among the file's trimmed lines, other lines allowed between them. Returns one message per block
 * that does not, naming the closest file and the first line of the block it lacks.
 *
 * @param blocks the blocks, from {@link fencedBlocks}
 * @param files the contents of each file, by the name to show
 * @param source the name of the Markdown file, to show
 */
export function missingBlocks(blocks: readonly CodeBlock[], files: Readonly<Record<string, string>>, source: string): string[] {
  const fileLines = Object.entries(files).map(([name, text]) => ({ name, lines: text.split(/\r?\n/) }));
  const messages: string[] = [];
  for (const block of blocks) {
    const numbered = block.lines.map((text, i) => ({ text: text.trim(), line: block.line + 1 + i })).filter(({ text }) => text !== '');
    const wanted = numbered.map(({ text }) => text);
    let best = { name: '', matched: -1 };
    for (const { name, lines } of fileLines) {
      const matched = matchedInOrder(wanted, lines);
      if (matched > best.matched) best = { name, matched };
    }
    if (best.matched === wanted.length) continue;
    const lacking = numbered[best.matched];
    const where = `${source}:${block.line} (${block.heading}), ${wanted.length} lines`;
    const closest = best.matched > 0 ? `closest is ${best.name}, with the first ${best.matched} in order` : 'no file has even its first line';
    messages.push(`${where}: not in any file; ${closest}. Missing or out of order: ${source}:${lacking.line} ${JSON.stringify(lacking.text)}`);
  }
  return messages;
}

/**
 * The names at the top level of an object literal written in a block (`{ name: ..., kind: ... }`),
 * skipping nested objects, arrays and strings. The README shows data this way.
 */
export function topLevelKeys(lines: readonly string[]): string[] {
  const keys: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  const text = lines.map((line) => line.replace(/\/\/.*$/, '')).join('\n');
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quote) {
      if (char === quote) quote = null;
      continue;
    }
    if (char === "'" || char === '"' || char === '`') quote = char;
    else if ('{[('.includes(char)) depth++;
    else if ('}])'.includes(char)) depth--;
    else if (depth === 1) {
      const key = /^([A-Za-z_$][\w$]*)\s*:/.exec(text.slice(i));
      if (key && !/[\w$]/.test(text[i - 1] ?? '')) {
        keys.push(key[1]);
        i += key[1].length - 1;
      }
    }
  }
  return keys;
}

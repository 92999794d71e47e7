/** Fixing an unknown package name in a specification's text with one the channels have. */

/** `channel::name` then the name's characters: what a conda or pip entry starts with. */
const ENTRY = /^((?:[^\s:]+::)?)([A-Za-z0-9_.-]+)/;

/**
 * `text` with the package name of the entry at `line`/`column` (1-based, where the server placed
 * the problem: the entry's start, maybe its `- `) replaced by `name`; null when no entry is
 * there.
 */
export function replacePackageName(
  text: string,
  line: number,
  column: number,
  name: string
): string | null {
  const lines = text.split('\n');
  const found = nameAt(lines[line - 1], column);
  if (!found) {
    return null;
  }
  const source = lines[line - 1];
  lines[line - 1] =
    source.slice(0, found.from) + name + source.slice(found.from + found.name.length);
  return lines.join('\n');
}

/** The package name of the entry at `line`/`column` of `text` (to mark it in the form). */
export function packageNameAt(text: string, line: number, column: number): string | null {
  return nameAt(text.split('\n')[line - 1], column)?.name ?? null;
}

function nameAt(source: string | undefined, column: number): { from: number; name: string } | null {
  if (source === undefined) {
    return null;
  }
  let start = Math.max(0, column - 1);
  // Skip a list marker and quotes placed before the entry.
  const lead = /^(\s*-\s+)?['"]?/.exec(source.slice(start));
  start += lead ? lead[0].length : 0;
  const match = ENTRY.exec(source.slice(start));
  return match ? { from: start + match[1].length, name: match[2] } : null;
}

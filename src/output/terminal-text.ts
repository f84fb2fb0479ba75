/**
 * Text from the profiled process (function, file, thread and process names,
 * paths) as it may be shown on a terminal. The process chooses those names:
 * raw, an escape sequence in one could set the window title, write the
 * clipboard (OSC 52) or erase and rewrite the lines around it, and a bidi
 * control could reorder what is read. So C0 controls (tab, newline and CR
 * too), DEL, C1 controls, the bidi controls and the invisible separators
 * below are shown as escapes: `\xHH` up to U+00FF, `\uHHHH` above. Other
 * characters, "é" or "中文" too, are left as they are.
 *
 * A backslash is left as it is, not doubled: names are shown for reading,
 * the profile files keep them exactly, and without doubling the escaping
 * is idempotent (its output holds nothing it escapes), so a name escaped by
 * a formatter can be escaped again with its whole line on the way out.
 */

/**
 * C0, DEL and C1 controls; U+061C, U+200E/F, U+202A-E and U+2066-9 (bidi
 * marks, embeddings, overrides and isolates); U+2028/9 (line and paragraph
 * separators); U+200B, U+2060 and U+FEFF (zero-width spaces: invisible
 * text between what is seen).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/g;

function escapeOne(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control and invisible format character shown as an escape. */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/** Writes one line to stderr, escaped: the way every line of mixprof's own reaches the user's terminal. */
export function writeStderrLine(line: string): void {
  process.stderr.write(terminalText(line) + '\n');
}

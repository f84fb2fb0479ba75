/**
 * Frame names in folded text, and back. Readers split a line into frames at
 * ';' and the file into lines at '\n' (some at '\r' too), and a terminal or
 * editor showing the file acts on control characters: so ';', every C0
 * control (NUL, tab, CR, newline, ESC ...) and DEL are written as '%' and
 * two upper-case hex digits: "%3B", "%00", "%09", "%0D", "%0A", "%1B", "%7F".
 * Spaces stay: a line's count is after its last space. A name that ends as
 * a kind mark does ("x_[k]", flamegraph.pl's annotations) has that '_'
 * written "%5F", so it is not read back as a kernel or Python frame.
 *
 * A '%' is written "%25" only where the text after it would read as one of
 * those codes (or as "%25"), so that names such as "100%" or "%s" read as
 * they are and a name holding the text "%3B" reads back as "%3B", not ';'.
 * The reader decodes exactly these codes, upper case, and nothing else: what
 * the writer made comes back exactly, and files of tools that do not escape
 * (stackcollapse-*.pl, py-spy) keep their "%20" or "%d"; older mixprof
 * wrote only "%3B" and "%0A", which read as they did.
 */

/** What the writer escapes, and the codes the reader decodes (C0 controls, ';', DEL, '%'): the two must agree. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TO_ESCAPE = /[\u0000-\u001f;\u007f]|%(?=[01][0-9A-F]|3B|7F|25|5F)|_(?=\[[a-z]\]$)/g;
const ESCAPED = /%(?:[01][0-9A-F]|3B|7F|25|5F)/g;

function code(char: string): string {
  return '%' + char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
}

export function escapeFrameName(name: string): string {
  return name.replace(TO_ESCAPE, code);
}

export function unescapeFrameName(text: string): string {
  return text.includes('%') ? text.replace(ESCAPED, (c) => String.fromCharCode(parseInt(c.slice(1), 16))) : text;
}

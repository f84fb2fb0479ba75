/**
 * Names from the profiled process shown on a terminal: every control and
 * invisible format character escaped, everything else as it is; and the
 * terminal writers (top table, status line, top's screen) escape before they
 * measure.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatProgress } from '../../src/output/status-line.js';
import { terminalText } from '../../src/output/terminal-text.js';
import { formatTopTable } from '../../src/output/top-table.js';
import { viewRows } from '../../src/top/function-view.js';
import { renderFrame, type Header } from '../../src/top/screen.js';

/** What must never reach a terminal raw. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/;

const HOSTILE = '\x1b]52;c;UFdORUQ=\x07\x1b]0;PWNED\x07\x1b[2K\rinnocent';
const HOSTILE_SHOWN = String.raw`\x1b]52;c;UFdORUQ=\x07\x1b]0;PWNED\x07\x1b[2K\x0dinnocent`;

describe('terminal text', () => {
  test('C0 controls (tab, newline, CR, ESC too), DEL and C1 controls become \\xHH', () => {
    for (let code = 0; code <= 0x1f; code++) assert.equal(terminalText(`a${String.fromCharCode(code)}b`), `a\\x${code.toString(16).padStart(2, '0')}b`);
    assert.equal(terminalText('\t\n\r'), String.raw`\x09\x0a\x0d`);
    assert.equal(terminalText('\x7f'), String.raw`\x7f`);
    for (let code = 0x80; code <= 0x9f; code++) assert.equal(terminalText(String.fromCharCode(code)), `\\x${code.toString(16)}`);
    assert.equal(terminalText(HOSTILE), HOSTILE_SHOWN);
  });

  test('bidi controls, line and paragraph separators and zero-width spaces become \\uHHHH', () => {
    const invisible = [0x061c, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2060, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff];
    for (const code of invisible) assert.equal(terminalText(`x${String.fromCharCode(code)}y`), `x\\u${code.toString(16).padStart(4, '0')}y`);
    // The Trojan Source trick: an override that makes "evil" read as "live".
    assert.equal(terminalText('\u202elive\u202c'), String.raw`\u202elive\u202c`);
  });

  test('everything else is left as it is: printable ASCII, accents, CJK, emoji, no-break spaces, backslashes', () => {
    for (const text of ['main (app.py:12)', 'é', 'ünïcödé <lambda>', '中文 函数', 'λ', '🐍', '\u00a0', '\u202f', 'operator<< \'x\' "y"', 'C:\\path\\x1b', '\u200d', '\u00ad', '']) {
      assert.equal(terminalText(text), text, JSON.stringify(text));
    }
  });

  test('idempotent: what it writes holds nothing it escapes', () => {
    let all = '';
    for (let code = 0; code < 0x3000; code++) all += String.fromCharCode(code);
    const once = terminalText(all + '\ufeff');
    assert.doesNotMatch(once, RAW);
    assert.equal(terminalText(once), once);
  });
});

describe('terminal writers escape the names they show', () => {
  const stacks = [
    { frames: [{ kind: 'marker' as const, name: 't\n\x1b[7m (12)' }, { kind: 'python' as const, name: `${HOSTILE} (app.py:3)` }], count: 5 },
    { frames: [{ kind: 'native' as const, name: 'memcpy\u202e' }], count: 2 },
  ];

  test('the top-functions table: escaped, and clipped by the escaped text', () => {
    const lines = formatTopTable(stacks, 10, 140);
    for (const line of lines) assert.doesNotMatch(line, RAW, JSON.stringify(line));
    assert.ok(lines.some((l) => l.endsWith(`${HOSTILE_SHOWN} (app.py) [py]`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.endsWith(String.raw`memcpy\u202e [native]`)), lines.join('\n'));
    for (const line of formatTopTable(stacks, 10, 60)) assert.ok(line.length <= 60, line);
  });

  test('the status line: the hottest function escaped, the line no wider than the terminal', () => {
    const progress = { elapsedSeconds: 1, durationSeconds: 5, samples: 10, lost: 0, processes: 1, hottest: { name: HOSTILE, share: 0.5 } };
    assert.ok(formatProgress(progress, 200).endsWith(`hottest: ${HOSTILE_SHOWN} 50%`));
    const narrow = formatProgress(progress, 60);
    assert.doesNotMatch(narrow, RAW);
    assert.ok(narrow.length < 60);
  });

  test("top's screen: function, thread and process names and the message escaped; every line as wide as the terminal", () => {
    const header: Header = { shown: { kind: 'process', pid: 42, comm: 'py\x1b]0;X\x07', python: '3.12.1', hz: 99 }, threads: 1, lost: 0, samples: 7, coveredMs: 1000, windowMs: 10_000, sort: 'own%', thread: 't\n\x1b[7m (12)', paused: false, ended: null };
    const { rows } = viewRows(stacks.map((s) => ({ frames: s.frames.slice(s.frames[0]!.kind === 'marker' ? 1 : 0), count: s.count })), { sort: 'own%', toggled: new Set() });
    const lines = renderFrame({ header, rows, cursor: 0, scroll: 0, message: 'wrote x\r\x1b[2Ky' }, 160, 12);
    // The screen's own sequences (bold, reverse, reset) are the only ones left.
    const plain = lines.map((l) => l.replace(new RegExp(String.raw`\u001b\[\d+m`, 'g'), ''));
    for (const line of plain) assert.doesNotMatch(line, RAW, JSON.stringify(line));
    for (const line of plain.slice(0, -1)) assert.ok(line.length === 160 || line === '', JSON.stringify(line));
    assert.match(plain[0]!, /^mixprof top - process 42 \(py\\x1b\]0;X\\x07\) · /);
    assert.match(plain[1]!, /thread: t\\x0a\\x1b\[7m \(12\)/);
    assert.ok(plain.some((l) => l.includes(`${HOSTILE_SHOWN} (app.py) [py]`)), plain.join('\n'));
    assert.ok(plain.at(-1)!.startsWith(String.raw`wrote x\x0d\x1b[2Ky`));
  });
});

/**
 * A real process whose names attack the terminal (test/workloads/hostile-names.py):
 * its hot function, source file, thread and process names hold OSC 52
 * (clipboard) and OSC 0 (title) sequences, erase-line, BEL, CR, a newline,
 * DEL, a C1 CSI and a bidi override. Whatever mixprof shows on a terminal
 * (stderr's lines and table, the status line, top's screen) shows them as
 * escapes; in tmux, the title and the clipboard stay untouched. Its folded
 * output escapes them too, and `mixprof convert` reads every name back exactly.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { formatFolded } from '../../src/output/folded.js';
import type { StackCount } from '../../src/profile/profile.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, runMixprof, sampleForCpu, startWorkload, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';
import { Tmux } from '../helpers/tmux.js';

interface HostileReady {
  tid: number;
  function: string;
  file: string;
  thread: string;
  comm: string;
}

/** The names as the workload sets them, and as a terminal must show them. */
const NAMES = {
  function: '\x1b]52;c;UFdORUQ=\x07\x1b]0;PWNED\x07\x1b[2K\r\x7f\x9b\u202einnocent',
  file: 'x\x1b[1m\r.py',
  thread: 't\x1b[7m\x07\r\n\x7f\u202e',
  comm: 'p\x1b]0;X\x07\r\x7f\u202e',
};
const SHOWN = {
  function: String.raw`\x1b]52;c;UFdORUQ=\x07\x1b]0;PWNED\x07\x1b[2K\x0d\x7f\x9b\u202einnocent`,
  file: String.raw`x\x1b[1m\x0d.py`,
  thread: String.raw`t\x1b[7m\x07\x0d\x0a\x7f\u202e`,
  comm: String.raw`p\x1b]0;X\x07\x0d\x7f\u202e`,
};

/** Nothing of these may reach a terminal raw: C0 controls (but the line ends), DEL, C1, bidi controls. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function assertNothingRaw(text: string, what: string): void {
  const at = text.search(RAW);
  assert.equal(at, -1, `${what} holds a raw control at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 80), at + 80))}`);
}

interface SpeedscopeFrames {
  shared: { frames: { name: string; file?: string }[] };
  profiles: { name: string }[];
}

describe('names that attack the terminal', () => {
  let workload: Workload<HostileReady>;
  let dir: string;

  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-hostile-'));
    workload = await startWorkload<HostileReady>(pyenvPython('3.12.1').executable, [path.join(WORKLOADS, 'hostile-names.py')]);
    const { function: f, file, thread, comm } = workload.ready;
    assert.deepEqual({ function: f, file, thread, comm }, NAMES, 'the workload names itself as this test expects');
  });

  after(async () => {
    await workload?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('[S20] sample: the lines on stderr (sampling line, report, top table) show the names escaped, never raw', async () => {
    const folded = path.join(dir, 'sample.folded');
    const r = await sampleForCpu(['sample', '-x', String(workload.pid), '--top', '200', '--threads', '-o', folded], { pid: workload.pid, tid: workload.ready.tid }, 1);
    assert.equal(r.exitCode, 0, r.stderr);
    assertNothingRaw(r.stderr, 'stderr');
    assert.ok(r.stderr.includes(`mixprof: sampling process ${workload.pid} (${SHOWN.comm}) at `), r.stderr);
    // The table clips names to 100 columns (stderr is no terminal here): the escaped text is what is clipped.
    const row = r.stderr.split('\n').find((l) => /^\s+\d+\.\d%\s+\d+\s+\d+\.\d%\s+\d+\s{2}/.test(l) && l.includes(SHOWN.function.slice(0, 40)));
    assert.ok(row, r.stderr);
    assert.ok(row.length <= 100, row);
  });

  test('[S20] the status line on a terminal shows the hottest function escaped; only its own redraw sequence is raw', async () => {
    // script(1) gives mixprof a terminal; the arguments are fixed paths and a PID.
    const command = [MIXPROF, 'sample', '-x', String(workload.pid), '-t', '2.5', '-o', path.join(dir, 'tty.folded')].map((a) => `'${a}'`).join(' ');
    const r = await execa('script', ['-qefc', command, '/dev/null'], { reject: false, timeout: 120_000, stdin: 'ignore' });
    assert.equal(r.exitCode, 0, r.stdout);
    // The terminal's own line ends ("\r\n") and the status line's redraw ("\r" and erase-line) are the only controls.
    const parts = r.stdout.split('\r\x1b[K');
    assertNothingRaw(parts.join('\n').replace(/\r\n/g, '\n'), 'the terminal output');
    assert.ok(parts.some((p) => p.includes(`hottest: ${SHOWN.function.slice(0, 12)}`)), JSON.stringify(parts.slice(0, 5)));
    assert.ok(r.stdout.includes(`(${SHOWN.comm})`), r.stdout);
  });

  test('[S20] mixprof top shows function, process and thread names escaped: the title and the clipboard stay untouched', async () => {
    const tmux = new Tmux();
    // Plain text, no attributes: the names as shown.
    const capture = (history = false): Promise<string> => tmux.tmux('capture-pane', '-p', ...(history ? ['-S', '-'] : []), '-t', 'top');
    const pane = (format: string): Promise<string> => tmux.pane('top', format);
    const screenWhere = async (ok: (screen: string) => boolean, what: string): Promise<string> => {
      const deadline = Date.now() + 60_000;
      let screen = '';
      while (Date.now() < deadline) {
        screen = await capture();
        if (ok(screen)) return screen;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`the screen never showed ${what}:\n${screen}`);
    };
    try {
      await tmux.tmux('new-session', '-d', '-s', 'before', '-c', dir);
      // Applications may set tmux's paste buffers (OSC 52): a raw name would make one.
      await tmux.tmux('set-option', '-s', 'set-clipboard', 'on');
      // A pane's title before anything could set it: what top's pane must keep.
      const title = await tmux.pane('before', '#{pane_title}');
      await tmux.start('top', dir, [MIXPROF, 'top', '-x', String(workload.pid)]);
      let screen = await screenWhere((s) => s.includes(SHOWN.function), 'the escaped function name');
      assert.ok(screen.includes(`mixprof top - process ${workload.pid} (${SHOWN.comm}) · Python 3.12.1`), screen);
      assert.ok(screen.includes(`${SHOWN.function} (${SHOWN.file}) [py]`), screen);
      await tmux.keys('top', 't');
      screen = await screenWhere((s) => s.includes(`thread: ${SHOWN.thread} (${workload.ready.tid})`), 'the escaped thread name');
      assert.equal(await pane('#{pane_title}'), title, 'the pane title was changed');
      assert.equal((await tmux.tmux('list-buffers')).trim(), '', 'a paste buffer (the clipboard) was set');
      await tmux.keys('top', 'q');
      assert.equal(await tmux.exitStatus('top'), '0', await capture(true));
    } finally {
      await tmux.kill();
    }
    assert.equal(await bpftraceCount(), 0);
  });

  test('[S24] the folded output holds no raw control character, and convert reads every name back exactly', async () => {
    const folded = path.join(dir, 'names.folded');
    const r = await sampleForCpu(['sample', '-x', String(workload.pid), '--threads', '-o', folded], { pid: workload.pid, tid: workload.ready.tid }, 0.5);
    assert.equal(r.exitCode, 0, r.stderr);
    const text = await readFile(folded, 'utf8');
    // Controls escaped (%XX): one line per stack, each "frames COUNT".
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    assert.doesNotMatch(text.replace(/\n/g, ''), /[\u0000-\u001f\u007f]/);
    assert.ok(text.trim().split('\n').every((l) => /^\S.* \d+$/.test(l)), text.slice(0, 2000));
    const json = path.join(dir, 'names.speedscope.json');
    const c = await runMixprof(['convert', folded, '-o', json]);
    assert.equal(c.exitCode, 0, c.stderr);
    const speedscope = JSON.parse(await readFile(json, 'utf8')) as SpeedscopeFrames;
    assert.ok(speedscope.shared.frames.some((f) => f.name === NAMES.function && f.file === NAMES.file), JSON.stringify(speedscope.shared.frames));
    // Every stack under a thread root: a profile per thread, named by it.
    assert.ok(speedscope.profiles.some((p) => p.name === `${NAMES.thread} (${workload.ready.tid})`), JSON.stringify(speedscope.profiles.map((p) => p.name)));
  });

  test('[S24] convert: names holding %3B, %0A, %25 and % as text, ; and controls round-trip exactly; old files read as before', async () => {
    const names = ['lit%3Bsemi', 'lit%0Anewline', 'pct%25', '100%', '%', 'semi;colon', 'cr\rlf\r\n', 'nul\0', 'esc\x1b[31m', 'del\x7f', 'tab\t', 'é中🐍 spaced'];
    const stacks: StackCount[] = names.map((name, i) => ({ frames: [{ kind: 'native', name: 'root' }, { kind: 'native', name }], count: i + 1 }));
    const file = path.join(dir, 'names-in.folded');
    const text = formatFolded(stacks, { markPython: false });
    await writeFile(file, text);
    // As folded again: the same text, line for line.
    const again = await execa(MIXPROF, ['convert', file, '--format', 'folded'], { reject: false, stripFinalNewline: false });
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal(again.stdout, text);
    // In speedscope, each name exactly as it was.
    const json = path.join(dir, 'names-out.speedscope.json');
    const c = await runMixprof(['convert', file, '-o', json]);
    assert.equal(c.exitCode, 0, c.stderr);
    const out = (JSON.parse(await readFile(json, 'utf8')) as SpeedscopeFrames).shared.frames.map((f) => f.name);
    assert.deepEqual(out.filter((n) => n !== 'root').sort(), [...names].sort());
    // A file of an older mixprof (";" and newlines escaped, nothing else) and one of stackcollapse-perf.pl (nothing escaped).
    const old = path.join(dir, 'old.folded');
    await writeFile(old, 'a%3Bb;c%0Ad 2\nmain;printf%d;my%20path 3\n');
    const o = await runMixprof(['convert', old, '-o', path.join(dir, 'old.speedscope.json')]);
    assert.equal(o.exitCode, 0, o.stderr);
    const oldNames = (JSON.parse(await readFile(path.join(dir, 'old.speedscope.json'), 'utf8')) as SpeedscopeFrames).shared.frames.map((f) => f.name);
    assert.deepEqual(oldNames.sort(), ['a;b', 'c\nd', 'main', 'my%20path', 'printf%d'].sort());
  });
});

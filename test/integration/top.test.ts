/**
 * `mixprof top` in a real terminal: tmux (a private server), against a
 * workload whose one thread spends about 3/4 of its time in hot() and 1/4
 * in warm(). The screen is read with capture-pane after each key: the known
 * functions at the top with plausible shares, sorting, opening a function
 * into its callees and callers, pausing, the thread filter, writing a folded
 * file, and quitting (or a SIGTERM) with the terminal restored and no
 * bpftrace left. Without a terminal, top refuses in one line.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, runMixprof, startWorkload, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';
import { exitedWith, Tmux } from '../helpers/tmux.js';

interface ScreenRow {
  readonly ownPercent: number | null;
  readonly totalPercent: number | null;
  readonly total: number | null;
  readonly name: string;
  readonly depth: number;
  readonly cursor: boolean;
}

/** Escape sequences for colour and attributes, as tmux writes them with capture-pane -e. */
const SGR = new RegExp(String.raw`\u001b\[[0-9;]*m`, 'g');
/** Reverse video, which tmux may write combined with a reset ("0;7m"). */
const REVERSE = new RegExp(String.raw`\u001b\[(?:\d+;)*7m`);
const plain = (screen: string): string => screen.replace(SGR, '');

/** The list's rows: 32 columns of numbers, two spaces, then the name indented two per level. */
function rowsOf(screen: string): ScreenRow[] {
  const rows: ScreenRow[] = [];
  for (const line of screen.split('\n').slice(3)) {
    const text = plain(line);
    const numbers = text.slice(0, 32).trim().split(/\s+/);
    const rest = /^( *)(?:[▸▾] | {2})?(\S.*?)\s*$/.exec(text.slice(34));
    if (text.slice(32, 34) !== '  ' || !rest) continue;
    const percents = numbers.filter((n) => n.endsWith('%')).map(Number.parseFloat);
    const counts = numbers.filter((n) => /^\d+$/.test(n)).map(Number);
    rows.push({
      ownPercent: percents.length === 2 ? percents[0]! : null,
      totalPercent: percents.at(-1) ?? null,
      total: counts.at(-1) ?? null,
      name: rest[2]!,
      depth: rest[1]!.length / 2,
      cursor: REVERSE.test(line),
    });
  }
  return rows;
}

function samplesOf(screen: string): number {
  return Number(/^(\d+) samples/m.exec(plain(screen))?.[1] ?? -1);
}

describe('mixprof top in tmux', () => {
  const tmux = new Tmux();
  let workload: Workload<{ tid: number }>;
  let dir: string;

  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-top-'));
    workload = await startWorkload<{ tid: number }>(pyenvPython('3.12.1').executable, [path.join(WORKLOADS, 'hot-warm.py')]);
  });

  after(async () => {
    await tmux.kill();
    await workload?.stop();
    await rm(dir, { recursive: true, force: true });
    assert.equal(await bpftraceCount(), 0);
  });

  /** Waits (up to `ms`) for the screen to satisfy `ok`; returns it. */
  async function screenWhere(session: string, ok: (screen: string) => boolean, what: string, ms = 30_000): Promise<string> {
    const deadline = Date.now() + ms;
    let screen = '';
    while (Date.now() < deadline) {
      screen = await tmux.capture(session);
      // A capture may fall in the middle of a redraw (rows of two frames): only a screen read the same twice counts.
      if (ok(screen) && (await tmux.capture(session)) === screen) return screen;
      if (exitedWith(screen) !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the screen never showed ${what}:\n${plain(screen)}`);
  }

  /** mixprof's exit status, as the shell around it printed it. */
  async function exitOf(session: string): Promise<string> {
    const status = await tmux.exitStatus(session);
    if (status === null) throw new Error(`mixprof top did not exit:\n${plain(await tmux.capture(session))}`);
    return status;
  }

  /** Quit with status 0, and the shell's screen back: the view was on the alternate screen only. */
  async function exitedCleanly(session: string): Promise<void> {
    assert.equal(await exitOf(session), '0');
    const screen = plain(await tmux.capture(session, true));
    assert.doesNotMatch(screen, /mixprof top - process|samples \(/, screen);
    assert.equal(await bpftraceCount(), 0);
  }

  const row = (screen: string, name: RegExp): ScreenRow | undefined => rowsOf(screen).find((r) => r.depth === 0 && name.test(r.name));

  test('the known functions, sorting, opening a function, pausing, a thread, writing, quitting', async () => {
    const session = 'top';
    // A 10 s window holds 200 samples even when a busy machine gives the workload a tenth of a CPU.
    await tmux.start(session, dir, [MIXPROF, 'top', '-x', String(workload.pid), '-F', '199', '--window', '10']);
    // hot and warm own (almost) nothing: sorted by OWN% they may be below the screen, under the syscall's kernel frames.
    let screen = await screenWhere(session, (s) => samplesOf(s) >= 200, '200 samples', 90_000);
    const text = plain(screen);
    assert.match(text, new RegExp(`^mixprof top - process ${workload.pid} \\(python3[.\\d]*\\) · Python 3\\.12\\.1 · 1 thread · 199 Hz · lost 0`));
    assert.match(text, /samples \(last [\d.]+ s\) · sort OWN% · thread: all/);
    // Sorted by own samples by default: the first row has the most.
    const own = rowsOf(screen).filter((r) => r.depth === 0).map((r) => r.ownPercent ?? 0);
    assert.deepEqual(own, [...own].sort((a, b) => b - a));

    // s: by TOTAL%. The chain's functions are on every sample; hot has about 3/4, warm 1/4.
    await tmux.keys(session, 's');
    screen = await screenWhere(session, (s) => /sort TOTAL%/.test(plain(s)) && row(s, /^hot \(/) !== undefined && row(s, /^warm \(/) !== undefined, 'sort TOTAL% with hot and warm');
    const totals = rowsOf(screen).filter((r) => r.depth === 0);
    assert.deepEqual(totals.map((r) => r.totalPercent), totals.map((r) => r.totalPercent).sort((a, b) => b! - a!));
    for (const name of [/^outer \(/, /^spin_until \(/, /^<module> \(/]) assert.ok((row(screen, name)?.totalPercent ?? 0) >= 90, `${name} on (nearly) every sample:\n${plain(screen)}`);
    const hot = row(screen, /^hot \(/)!.totalPercent!;
    const warm = row(screen, /^warm \(/)!.totalPercent!;
    assert.ok(hot >= 55 && hot <= 92 && warm >= 8 && warm <= 45 && hot > 1.5 * warm, `hot ${hot}%, warm ${warm}%`);
    assert.ok(Math.abs(hot + warm - 100) <= 10, `hot ${hot}% + warm ${warm}%`);

    // Down to hot, enter: its callees (spin_until) and callers (outer, then <module>).
    const index = totals.findIndex((r) => /^hot \(/.test(r.name));
    // The cursor follows its function when the sort changes: from the top.
    await tmux.keys(session, 'Home');
    for (let i = 0; i < index; i++) await tmux.keys(session, 'Down');
    screen = await screenWhere(session, (s) => rowsOf(s).find((r) => r.cursor)?.name.startsWith('hot (') === true, 'the cursor on hot');
    await tmux.keys(session, 'Enter');
    screen = await screenWhere(session, (s) => rowsOf(s).some((r) => r.name === 'called by'), 'hot opened');
    const rows = rowsOf(screen);
    const at = rows.findIndex((r) => r.depth === 0 && r.name.startsWith('hot ('));
    const opened = rows.slice(at + 1, rows.findIndex((r, i) => i > at && r.depth === 0));
    const names = opened.map((r) => `${r.depth}:${r.name.replace(/ \(.*$/, '')}`);
    assert.deepEqual(names.slice(0, 2), ['1:calls', '2:spin_until'], plain(screen));
    const callers = names.slice(names.indexOf('1:called by'));
    assert.deepEqual(callers.slice(0, 3), ['1:called by', '2:outer', '3:<module>'], plain(screen));
    const spinUnder = opened.find((r) => r.depth === 2 && r.name.startsWith('spin_until ('))!;
    assert.ok(Math.abs(spinUnder.total! - row(screen, /^hot \(/)!.total!) <= 2, 'hot\'s samples go through spin_until');

    // Space: paused. The counts stay as they are while sampling goes on (2.5 s), and move again after.
    await tmux.keys(session, 'Space');
    screen = await screenWhere(session, (s) => /· PAUSED/.test(plain(s)), 'PAUSED');
    const frozen = samplesOf(screen);
    const pausedAt = Date.now();
    while (Date.now() - pausedAt < 2500) {
      assert.equal(samplesOf(await tmux.capture(session)), frozen);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await tmux.keys(session, 'Space');
    await screenWhere(session, (s) => !/PAUSED/.test(plain(s)) && samplesOf(s) !== frozen, 'counts moving again', 10_000);

    // t: the workload's one thread; w: the stacks shown, as a folded file.
    await tmux.keys(session, 't');
    screen = await screenWhere(session, (s) => new RegExp(`thread: \\S+ \\(${workload.ready.tid}\\)`).test(plain(s)), 'the thread filter');
    await tmux.keys(session, 'w');
    screen = await screenWhere(session, (s) => /wrote \d+ stacks/.test(plain(s)), 'the write message');
    const written = /to (\S+\.folded)/.exec(plain(screen))![1]!;
    assert.equal(path.dirname(written), dir);
    const folded = await readFile(written, 'utf8');
    // The chain, under whatever native root frames the unwind reached (_start, Py_RunMain...).
    assert.match(folded, /^(?:[^;\n]+;)*<module> \(\S*hot-warm\.py:\d+\);outer \(\S*hot-warm\.py:\d+\);hot \(\S*hot-warm\.py:\d+\);spin_until/m);
    assert.ok(folded.trim().split('\n').every((l) => /^\S.* \d+$/.test(l)));

    // r: counts start again.
    await tmux.keys(session, 'r');
    await screenWhere(session, (s) => /counts reset/.test(plain(s)), 'counts reset');

    await tmux.keys(session, 'q');
    await exitedCleanly(session);
  });

  test('SIGTERM ends it with the terminal restored and no bpftrace left', async () => {
    const session = 'term';
    await tmux.start(session, dir, [MIXPROF, 'top', '-x', String(workload.pid), '--unwind', 'fp']);
    await screenWhere(session, (s) => samplesOf(s) > 0 && (row(s, /^hot \(/) !== undefined), 'samples');
    assert.equal(await tmux.pane(session, '#{alternate_on}'), '1');
    const shell = await tmux.pane(session, '#{pane_pid}');
    const { stdout } = await execa('pgrep', ['-P', shell]);
    process.kill(Number(stdout.trim()), 'SIGTERM');
    await exitedCleanly(session);
  });

  test('the terminal going away (an ssh connection dropped: SIGHUP, then writes fail) ends it, with no bpftrace left', async () => {
    const session = 'hangup';
    await tmux.start(session, dir, [MIXPROF, 'top', '-x', String(workload.pid), '--unwind', 'fp']);
    await screenWhere(session, (s) => samplesOf(s) > 0, 'samples');
    const shell = await tmux.pane(session, '#{pane_pid}');
    const node = Number((await execa('pgrep', ['-P', shell])).stdout.trim());
    await tmux.tmux('kill-session', '-t', session);
    const deadline = Date.now() + 20_000;
    while ((await execa('kill', ['-0', String(node)], { reject: false })).exitCode === 0) {
      assert.ok(Date.now() < deadline, 'mixprof top still runs after its terminal went away');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(await bpftraceCount(), 0);
  });

  test('a fault in the view ends it with the terminal restored, one error line and no bpftrace left', async () => {
    const session = 'crash';
    await tmux.start(session, dir, ['env', 'MIXPROF_FAULT=top-draw:3', MIXPROF, 'top', '-x', String(workload.pid)]);
    // A bug, as mixprof reports one: status 2, one line, on the shell's screen.
    assert.equal(await exitOf(session), '2');
    const lines = plain(await tmux.capture(session, true)).split('\n').filter((l) => l.trim() !== '' && !/^exited with/.test(l));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^mixprof: internal error: injected fault: top-draw \(please report it/);
    assert.equal(await bpftraceCount(), 0);
  });

  test('the sampler failing mid-run: the view says so and keeps what was counted; q quits', async () => {
    const session = 'sampler';
    await tmux.start(session, dir, ['env', 'MIXPROF_FAULT=dwarf-poll:200', MIXPROF, 'top', '-x', String(workload.pid), '--unwind', 'dwarf']);
    const screen = await screenWhere(session, (s) => /sampling ended \(/.test(plain(s)), 'the sampler\'s end');
    assert.ok(samplesOf(screen) > 0 && row(screen, /^hot \(/) !== undefined, plain(screen));
    await tmux.keys(session, 'q');
    await exitedCleanly(session);
  });

  test('a saved profile (top FILE): its functions and shares, its threads, writing it again, quitting; what a user can get wrong is one line', async () => {
    const file = path.join(dir, 'saved.folded');
    await writeFile(
      file,
      [
        'MainThread (7);main (app.py:3);hot (app.py:10);spin (app.py:20) 60',
        'MainThread (7);main (app.py:3);warm (app.py:12);read;ksys_read_[k] 20',
        'worker (8);run (app.py:30);hot (app.py:10);spin (app.py:20) 20',
      ].join('\n') + '\n',
    );
    const session = 'saved';
    await tmux.start(session, dir, [MIXPROF, 'top', file]);
    let screen = await screenWhere(session, (s) => samplesOf(s) === 100, '100 samples');
    assert.match(plain(screen), new RegExp(`^mixprof top - ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} · 2 threads$`, 'm'));
    assert.match(plain(screen), /^100 samples \(saved\) · sort OWN% · thread: all/m);
    assert.equal(row(screen, /^spin \(/)?.ownPercent, 80);
    assert.equal(row(screen, /^hot \(/)?.totalPercent, 80);
    // t: the busiest thread first; the counts stay (a saved profile has no window that moves on).
    await tmux.keys(session, 't');
    screen = await screenWhere(session, (s) => /thread: MainThread \(7\)/.test(plain(s)), 'the thread filter');
    assert.equal(samplesOf(screen), 80);
    assert.equal(row(screen, /^spin \(/)?.ownPercent, 75);
    await tmux.keys(session, 'w');
    screen = await screenWhere(session, (s) => /wrote \d+ stacks/.test(plain(s)), 'the write message');
    const written = /to (\S+\.folded)/.exec(plain(screen))![1]!;
    assert.match(path.basename(written), /^mixprof-top-saved-/);
    assert.equal((await readFile(written, 'utf8')).trim().split('\n').length, 2);
    await tmux.keys(session, 'q');
    assert.equal(await exitOf(session), '0');

    const both = await runMixprof(['top', file, '-x', '1']);
    assert.equal(both.exitCode, 1);
    assert.match(both.stderr, /^mixprof: error: mixprof top shows a running process \(-x PID\) or a saved profile \(FILE\), not both/);
    const neither = await runMixprof(['top']);
    assert.match(neither.stderr, /^mixprof: error: mixprof top needs a process to watch \(-x PID\) or a saved profile \(FILE\)/);
    const missing = await runMixprof(['top', path.join(dir, 'nothing.folded')]);
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /^mixprof: error: cannot read \S+nothing\.folded: no such file/);
    for (const r of [both, neither, missing]) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  test('without a terminal it refuses in one line, before attaching; a bad PID is one line too', async () => {
    const notty = await runMixprof(['top', '-x', String(workload.pid)]);
    assert.equal(notty.exitCode, 1);
    assert.match(notty.stderr, /^mixprof: error: mixprof top needs a terminal: .*use `mixprof sample`/);
    assert.equal(notty.stderr.trim().split('\n').length, 1);
    const foldedFiles = async (): Promise<number> => (await readdir(dir)).filter((f) => f.endsWith('.folded')).length;
    const before = await foldedFiles();
    const session = 'nopid';
    await tmux.start(session, dir, [MIXPROF, 'top', '-x', '4194000']);
    assert.notEqual(await exitOf(session), '0');
    const lines = plain(await tmux.capture(session, true)).split('\n').filter((l) => l.trim() !== '' && !/^exited with/.test(l));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^mixprof: error: .*4194000/);
    assert.equal(await foldedFiles(), before);
  });
});

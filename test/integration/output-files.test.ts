/**
 * `-o FILE` in a directory others can write: another user (the real user
 * `nobody`) plants a FIFO, a file of theirs or a symbolic link in a sticky,
 * world-writable directory, as in /tmp, before root's mixprof writes there.
 * Nothing planted is written into or followed; the profile goes to the
 * fallback file the error names. `mixprof convert` writes the profile: it
 * takes the same path to its output as `sample` and `record`.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, closeSync, constants, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { FIXTURES } from '../helpers/paths.js';
import { runMixprof, type MixprofResult } from '../helpers/processes.js';
import { assertRoot } from '../helpers/root.js';

const NOBODY = 65534;
const INPUT = path.join(FIXTURES, 'flamegraph.folded');
/** Long enough for a convert on a busy machine; the old write blocked on a FIFO for good. */
const TIMEOUT_MS = 30_000;

/** Runs a command as `nobody` (execa drops root's supplementary groups with the uid). */
async function asNobody(command: string, ...args: string[]): Promise<void> {
  await execa(command, args, { uid: NOBODY, gid: NOBODY });
}

function convert(output: string): Promise<MixprofResult> {
  return runMixprof(['convert', INPUT, '-q', '-o', output], { timeoutMs: TIMEOUT_MS });
}

let shared: string;
let elsewhere: string;
let expected: string;

before(async () => {
  assertRoot();
  shared = mkdtempSync(path.join(tmpdir(), 'mixprof-shared-'));
  chmodSync(shared, 0o1777);
  elsewhere = mkdtempSync(path.join(tmpdir(), 'mixprof-elsewhere-'));
  // What the profile is: the same conversion into a directory of root's own.
  const reference = path.join(elsewhere, 'reference.folded');
  const r = await convert(reference);
  assert.equal(r.exitCode, 0, r.stderr);
  expected = readFileSync(reference, 'utf8');
  rmSync(reference);
});
after(() => {
  for (const dir of [shared, elsewhere]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The run ended by itself, refused the path for `why` in one line, and put the whole profile in the fallback file it names. */
function assertFallback(r: MixprofResult, output: string, why: RegExp): void {
  assert.equal(r.timedOut, false, `mixprof did not end by itself in ${TIMEOUT_MS} ms`);
  assert.equal(r.exitCode, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0]!.startsWith(`mixprof: error: cannot write ${output}: `), lines[0]);
  assert.match(lines[0]!, why);
  const fallback = /the profile was written to (\S+) instead; choose another -o path/.exec(lines[0]!)?.[1] ?? '';
  assert.ok(fallback.startsWith(tmpdir() + '/'), lines[0]);
  try {
    assert.equal(readFileSync(fallback, 'utf8'), expected);
  } finally {
    rmSync(fallback, { force: true });
  }
}

describe('-o in a directory others can write', () => {
  test('[S21] a FIFO another user planted at the -o path is never opened: mixprof ends at once, the profile in the fallback file', async () => {
    const fifo = path.join(shared, 'fifo.folded');
    await asNobody('mkfifo', '-m', '0666', fifo);
    // No reader: an open for writing would wait for one for good.
    assertFallback(await convert(fifo), fifo, /it is a FIFO, not a regular file/);
    // A reader waiting: a write would hand it the profile.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      assertFallback(await convert(fifo), fifo, /it is a FIFO/);
      let read = 0;
      try {
        read = readSync(reader, Buffer.alloc(65536));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      }
      assert.equal(read, 0, 'the FIFO\'s reader got data');
    } finally {
      closeSync(reader);
    }
    const left = lstatSync(fifo);
    assert.ok(left.isFIFO());
    assert.equal(left.uid, NOBODY);
  });

  test('[S22] another user\'s 0666 file at the -o path in a shared directory is not written; the user\'s own file is replaced and stays theirs, and so is a user\'s file in their own directory', async () => {
    const theirs = path.join(shared, 'theirs.folded');
    await asNobody('sh', '-c', 'umask 0; printf "their data\\n" > "$1"', 'sh', theirs);
    const planted = lstatSync(theirs);
    assert.equal(planted.mode & 0o777, 0o666);
    assertFallback(await convert(theirs), theirs, /it belongs to another user \(uid 65534\)/);
    const now = lstatSync(theirs);
    assert.equal(readFileSync(theirs, 'utf8'), 'their data\n');
    assert.deepEqual([now.ino, now.uid, now.mode], [planted.ino, NOBODY, planted.mode]);

    // The current user's own file: replaced, as any overwrite, keeping its permission bits.
    const mine = path.join(shared, 'mine.folded');
    writeFileSync(mine, 'old profile\n', { mode: 0o600 });
    const r = await convert(mine);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(readFileSync(mine, 'utf8'), expected);
    const replaced = statSync(mine);
    assert.equal(replaced.uid, process.geteuid!());
    assert.equal(replaced.mode & 0o777, 0o600);
    // No temporary file left beside it.
    assert.deepEqual(readdirSync(shared).filter((f) => f.includes('.mixprof-')), []);

    // A user's file in their own directory (only they write it), as `sudo mixprof ... -o ~/p.folded` over it: replaced.
    const home = mkdtempSync(path.join(tmpdir(), 'mixprof-home-'));
    chmodSync(home, 0o755);
    chownSync(home, NOBODY, NOBODY);
    const inHome = path.join(home, 'p.folded');
    await asNobody('sh', '-c', 'printf "old\\n" > "$1"', 'sh', inHome);
    try {
      const own = await convert(inHome);
      assert.equal(own.exitCode, 0, own.stderr);
      assert.equal(readFileSync(inHome, 'utf8'), expected);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('[S23] a symbolic link to a directory another user planted in the shared directory is not followed; root\'s own links and a user\'s links in their own directory are', async () => {
    const planted = path.join(shared, 'out');
    await asNobody('ln', '-s', elsewhere, planted);
    const through = path.join(planted, 'p.folded');
    assertFallback(await convert(through), through, /is a symbolic link of another user's \(uid 65534\) in a directory others can write/);
    // Nor through a link of root's own whose target passes through the planted one.
    const chained = path.join(shared, 'chained');
    symlinkSync('out', chained);
    assertFallback(await convert(path.join(chained, 'p.folded')), path.join(chained, 'p.folded'), /symbolic link of another user's/);
    assert.deepEqual(readdirSync(elsewhere), []);

    // A link of root's own is followed.
    const own = path.join(shared, 'own');
    symlinkSync(elsewhere, own);
    let r = await convert(path.join(own, 'p.folded'));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(readFileSync(path.join(elsewhere, 'p.folded'), 'utf8'), expected);

    // So is a link of nobody's in a directory nobody alone can write (as a user's ~/out -> /data/out under sudo).
    const home = path.join(shared, 'home');
    await asNobody('mkdir', '-m', '0755', home);
    await asNobody('ln', '-s', elsewhere, path.join(home, 'out'));
    r = await convert(path.join(home, 'out', 'q.folded'));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(readFileSync(path.join(elsewhere, 'q.folded'), 'utf8'), expected);
  });
});

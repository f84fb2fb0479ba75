import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isMixprofError } from '../../src/errors.js';
import { chooseFormat, formatFromFileName } from '../../src/output/formats.js';
import { checkOutputFile, writeProfile } from '../../src/output/write.js';

describe('choosing the output format', () => {
  test('from the extension, --format first, folded otherwise', () => {
    assert.equal(formatFromFileName('app.svg'), 'svg');
    assert.equal(formatFromFileName('APP.SVG'), 'svg');
    assert.equal(formatFromFileName('app.speedscope.json'), 'speedscope');
    assert.equal(formatFromFileName('app.json'), 'speedscope');
    assert.equal(formatFromFileName('cpu.pb.gz'), 'pprof');
    assert.equal(formatFromFileName('cpu.pprof'), 'pprof');
    assert.equal(formatFromFileName('a.cpuprofile'), 'cpuprofile');
    assert.equal(formatFromFileName('a.folded'), 'folded');
    assert.equal(formatFromFileName('a.html'), null);
    assert.equal(chooseFormat(undefined, 'x.svg'), 'svg');
    assert.equal(chooseFormat('pprof', 'x.svg'), 'pprof');
    assert.equal(chooseFormat(undefined, null), 'folded');
    assert.equal(chooseFormat(undefined, 'x.out'), 'folded');
    assert.throws(() => chooseFormat('png', null), (e: unknown) => isMixprofError(e) && e.code === 'BAD_OPTION' && /png/.test(e.message));
  });
});

describe('writing the output file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mixprof-write-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('[S02] creates the file with the umask, replacing an old one', async () => {
    const file = path.join(dir, 'out.folded');
    writeFileSync(file, 'old old old old\n');
    const old = process.umask(0o027);
    try {
      await writeProfile(file, 'a;b 1\n', '.folded');
    } finally {
      process.umask(old);
    }
    assert.equal(readFileSync(file, 'utf8'), 'a;b 1\n');
    const fresh = path.join(dir, 'fresh.pb.gz');
    const before = process.umask(0o027);
    try {
      await writeProfile(fresh, new Uint8Array([1, 2, 3]), '.pb.gz');
    } finally {
      process.umask(before);
    }
    assert.deepEqual([...readFileSync(fresh)], [1, 2, 3]);
    assert.equal(statSync(fresh).mode & 0o777, 0o640);
  });

  test('[S01] never writes through a symlink; the profile goes to a new file that the error names', async () => {
    const victim = path.join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    const link = path.join(dir, 'link.folded');
    symlinkSync(victim, link);
    let fallback = '';
    await assert.rejects(
      writeProfile(link, 'a;b 1\n', '.folded'),
      (e: unknown) => {
        if (!isMixprofError(e) || e.code !== 'OUTPUT_FAILED' || !/symbolic link/.test(e.message)) return false;
        fallback = /written to (\S+) instead/.exec(e.hint ?? '')?.[1] ?? '';
        return true;
      },
    );
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.ok(fallback.endsWith('.folded'), fallback);
    assert.equal(readFileSync(fallback, 'utf8'), 'a;b 1\n');
    unlinkSync(fallback);
  });

  test('/dev/null, by any name, takes the profile and keeps nothing; checked before sampling too', async () => {
    const link = path.join(dir, 'null-link');
    symlinkSync('/dev/null', link);
    for (const file of ['/dev/null', link]) {
      assert.deepEqual(await writeProfile(file, 'a;b 1\n', '.folded'), { path: file });
      checkOutputFile(file);
    }
    assert.ok(statSync('/dev/null').isCharacterDevice());
    unlinkSync(link);
  });

  test('a device or a directory at the path is refused, never replaced; before sampling too', async () => {
    for (const [file, why] of [
      ['/dev/zero', /it is a character device, not a regular file/],
      [dir, /it is a directory/],
      [`${dir}/`, /it names a directory/],
    ] as const) {
      let fallback = '';
      await assert.rejects(writeProfile(file, 'a;b 1\n', '.folded'), (e: unknown) => {
        if (!isMixprofError(e) || e.code !== 'OUTPUT_FAILED' || !why.test(e.message)) return false;
        fallback = /written to (\S+) instead/.exec(e.hint ?? '')?.[1] ?? '';
        return true;
      });
      assert.equal(readFileSync(fallback, 'utf8'), 'a;b 1\n');
      unlinkSync(fallback);
      assert.throws(() => checkOutputFile(file), (e: unknown) => isMixprofError(e) && e.code === 'BAD_OPTION' && why.test(e.message) && /nothing was sampled/.test(e.hint ?? ''));
    }
    assert.ok(statSync('/dev/zero').isCharacterDevice());
  });

  test('a path is resolved as the kernel does: `link/..` is the parent of the link\'s target', async () => {
    mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
    symlinkSync(path.join(dir, 'a', 'b'), path.join(dir, 'to-b'));
    // Not path.join, which would drop `to-b/..` by itself.
    await writeProfile(`${dir}/to-b/../up.folded`, 'a;b 1\n', '.folded');
    assert.equal(readFileSync(path.join(dir, 'a', 'up.folded'), 'utf8'), 'a;b 1\n');
  });

  test('[F12] an unwritable path keeps the samples in a fallback file', async () => {
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith(`mixprof-${process.pid}-`));
    await assert.rejects(writeProfile(path.join(dir, 'no', 'such', 'dir.svg'), '<svg/>', '.svg'), (e: unknown) => isMixprofError(e) && e.code === 'OUTPUT_FAILED');
    const made = readdirSync(tmpdir()).filter((f) => f.startsWith(`mixprof-${process.pid}-`) && !before.includes(f));
    assert.equal(made.length, 1);
    assert.equal(readFileSync(path.join(tmpdir(), made[0]!), 'utf8'), '<svg/>');
    unlinkSync(path.join(tmpdir(), made[0]!));
  });
});

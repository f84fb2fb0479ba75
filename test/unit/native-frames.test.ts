// NativeFrames over a live process whose maps change: a forked process's
// frames are named through its parent's symbolizer until it maps code of its
// own, then through one over its own maps; stacks that arrived before are
// told apart; a shared symbolizer outlives its owner until the last sharer
// lets go. Real addon, real Python process, no BPF.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';

import { nativeAddon, type NativeSymbolizer } from '../../src/native.js';
import { NativeFrames } from '../../src/symbolize/native.js';
import { isExecutable, parseMaps } from '../../src/target/maps.js';
import { openTarget, readMapsText } from '../../src/target/process.js';
import { pyenvPython } from '../helpers/pythons.js';

const addon = nativeAddon();
let child: ChildProcess;
let lines: Interface;

/** The next line the child prints, within 30 s. */
function nextLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no line from the child in 30 s')), 30_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
}

/** An address inside the first executable mapping of a file whose name matches. */
function addressIn(pid: number, file: RegExp): bigint {
  const mapping = parseMaps(readMapsText(pid)!).find((m) => isExecutable(m) && file.test(m.path));
  assert.ok(mapping, `no executable mapping of ${file} in ${pid}`);
  return mapping.start + 0x40n;
}

before(async () => {
  // Prints READY, then imports _decimal (not loaded at start-up) when told, and says so.
  const code = 'import sys\nprint("READY", flush=True)\nsys.stdin.readline()\nimport _decimal\nprint("LOADED", flush=True)\nsys.stdin.readline()\n';
  child = spawn(pyenvPython('3.11.7').executable, ['-c', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  lines = createInterface({ input: child.stdout! });
  assert.equal(await nextLine(), 'READY');
});

after(() => {
  child?.kill('SIGKILL');
});

test('a process that maps code after the snapshot its parent was read with gets a symbolizer of its own, and its earlier stacks are known to be unwound before it', async () => {
  const pid = child.pid!;
  const target = openTarget(pid);
  const parent = new NativeFrames(addon, readMapsText(pid)!, { target, extraFiles: [], interpreterPath: null });
  const libc = addressIn(pid, /libc\.so/);
  child.stdin!.write('load\n');
  assert.equal(await nextLine(), 'LOADED');
  const decimal = addressIn(pid, /_decimal/);

  const given: NativeSymbolizer[] = [];
  const forked = parent.forProcess(target, (symbolizer) => given.push(symbolizer));
  // Named through the parent's symbolizer: it knows libc, not the extension.
  assert.ok(forked.frames([libc])[0]!.module?.includes('libc.so'));
  assert.equal(given.length, 0);
  const before = forked.snapshot;
  forked.noteAddresses([libc, decimal]);
  assert.equal(given.length, 1, 'the address outside the parent\'s maps gives the process a symbolizer of its own');
  assert.equal(forked.symbolizerForUnwinding(), given[0]);
  assert.notEqual(given[0], parent.symbolizerForUnwinding());
  assert.match(forked.frames([decimal])[0]!.module ?? '', /_decimal/);
  // Stacks that arrived before the snapshot that found the extension, and only those, were unwound without it.
  assert.ok(forked.snapshot > before);
  assert.equal(forked.unwoundBeforeMapped([libc, decimal], before), true);
  assert.equal(forked.unwoundBeforeMapped([libc, decimal], forked.snapshot), false);
  assert.equal(forked.unwoundBeforeMapped([libc], before), false);
  // The parent's own names are untouched.
  assert.equal(parent.frames([decimal])[0]!.module, null);
  forked.close();
  parent.close();
});

test('a symbolizer that forked processes share stays open after its owner closes, until the last of them lets go', () => {
  const pid = child.pid!;
  const target = openTarget(pid);
  const parent = new NativeFrames(addon, readMapsText(pid)!, { target, extraFiles: [], interpreterPath: null });
  const shared = parent.symbolizerForUnwinding();
  const libc = BigUint64Array.of(addressIn(pid, /libc\.so/));
  const a = parent.forProcess(target, () => assert.fail('no new code: no symbolizer of its own'));
  const b = a.forProcess(target, () => assert.fail('no new code: no symbolizer of its own'));
  parent.close();
  assert.ok(a.frames([libc[0]!])[0]!.module?.includes('libc.so'), 'named after its parent closed');
  a.close();
  assert.ok(b.frames([libc[0]!])[0]!.module?.includes('libc.so'), "named after its parent and grandparent closed");
  assert.equal(shared.symbolize(libc).length, 1);
  b.close();
  assert.throws(() => shared.symbolize(libc), /closed/i);
  // Once closed, addresses not named before are unknown rather than an error.
  assert.equal(b.frames([libc[0]! + 0x10n])[0]!.name, '[unknown]');
});

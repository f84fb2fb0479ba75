/** Finding an interpreter's DWARF: in the file, a -d file, by build-id, or by debuglink. */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { nativeAddon } from '../../src/native.js';
import { findDebugFile } from '../../src/target/debug-files.js';
import { debianPython, pyenvPython, type TestPython } from '../helpers/pythons.js';

const addon = nativeAddon();
let debian: TestPython;
let root: string;
let dir: string;

before(async () => {
  debian = await debianPython('debian-3.11');
  // The private root: <root>/usr/bin/python3.11 and <root>/usr/lib/debug/.build-id/..
  root = path.resolve(path.dirname(debian.executable), '..', '..');
  dir = await mkdtemp(path.join(tmpdir(), 'mixprof-debug-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

function query(file: string, extra: Partial<Parameters<typeof findDebugFile>[1]> = {}): Parameters<typeof findDebugFile>[1] {
  return { file, pathInTarget: file, elf: addon.elfInfo(file), root: '', extraFiles: [], ...extra };
}

test('a file with DWARF inside is its own debug file', () => {
  const lib = path.join(path.dirname(pyenvPython('3.11.7').executable), '..', 'lib', 'libpython3.11.so.1.0');
  assert.equal(findDebugFile(addon, query(lib)), lib);
});

test('a stripped file finds its debug file by build-id under a debug directory', () => {
  const found = findDebugFile(addon, query(debian.executable, { debugDirs: [path.join(root, 'usr', 'lib', 'debug')] }));
  assert.equal(found, debian.debugFile);
});

test('a -d file with the same build-id wins, one with another build-id is ignored', async () => {
  const elsewhere = path.join(dir, 'python.debug');
  await copyFile(debian.debugFile!, elsewhere);
  assert.equal(findDebugFile(addon, query(debian.executable, { extraFiles: [elsewhere], debugDirs: [] })), elsewhere);
  const other = path.join(path.dirname(pyenvPython('3.11.7').executable), '..', 'lib', 'libpython3.11.so.1.0');
  assert.equal(findDebugFile(addon, query(debian.executable, { extraFiles: [other], debugDirs: [] })), null);
});

test('the .gnu_debuglink name is looked up beside the file and in .debug/', async () => {
  const elf = addon.elfInfo(debian.executable);
  assert.ok(elf.debuglink, 'Debian binaries carry a debuglink');
  const bin = path.join(dir, 'bin');
  await mkdir(path.join(bin, '.debug'), { recursive: true });
  await copyFile(debian.executable, path.join(bin, 'python3.11'));
  await copyFile(debian.debugFile!, path.join(bin, '.debug', elf.debuglink));
  assert.equal(findDebugFile(addon, query(path.join(bin, 'python3.11'), { debugDirs: [] })), path.join(bin, '.debug', elf.debuglink));
});

test('nothing found is null', () => {
  assert.equal(findDebugFile(addon, query(debian.executable, { debugDirs: [dir] })), null);
});

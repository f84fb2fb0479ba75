import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingLibrary, packageFor } from '../../src/runtime-packages.js';

const RELEASE = {
  debian12: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  debian13: 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_ID="13"\nID=debian\n',
  sid: 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nNAME="Debian GNU/Linux"\nID=debian\n',
  ubuntu2204: 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n',
  ubuntu2404: 'NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n',
};

test('the package that provides a missing library, by the release: t64 names from Debian 13 and Ubuntu 24.04', () => {
  assert.equal(packageFor('libdw.so.1', RELEASE.debian12), 'libdw1');
  assert.equal(packageFor('libdw.so.1', RELEASE.debian13), 'libdw1t64');
  assert.equal(packageFor('libelf.so.1', RELEASE.sid), 'libelf1t64');
  assert.equal(packageFor('libelf.so.1', RELEASE.ubuntu2204), 'libelf1');
  assert.equal(packageFor('libelf.so.1', RELEASE.ubuntu2404), 'libelf1t64');
  assert.equal(packageFor('libbpf.so.1', RELEASE.debian13), 'libbpf1');
  assert.equal(packageFor('libdw.so.1', null), 'libdw1');
  assert.equal(packageFor('libunknown.so.3', RELEASE.debian12), null);
});

test("the library named in a dlopen error as Node reports it", () => {
  const message = 'libdw.so.1: cannot open shared object file: No such file or directory';
  assert.equal(missingLibrary(message), 'libdw.so.1');
  assert.equal(missingLibrary(`Error: ${message}\n    at Module._extensions..node`), 'libdw.so.1');
  assert.equal(missingLibrary('libstdc++.so.6: cannot open shared object file: No such file or directory'), 'libstdc++.so.6');
  assert.equal(missingLibrary('/x/node.napi.glibc.node: invalid ELF header'), null);
});

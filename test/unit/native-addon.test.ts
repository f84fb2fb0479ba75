// Tests of the native addon against real files and live processes on this
// machine. Expected values come from independent tools (readelf, objdump,
// gdb) run by the test itself wherever that is practical.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { walkConfigLayout } from '../../src/sampler/walk-fields.js';
import { addonFile, dwarfSamplerObject, nativeAddon, type ElfSegment, type StructLayoutResult } from '../../src/native.js';

const addon = nativeAddon();

const PYENV_PYTHON = '/root/.pyenv/versions/3.11.7/bin/python3.11';
const LIBPYTHON = '/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0';
const SYSTEM_PYTHON = '/usr/bin/python3.11';

function requireTool(name: string, pkg: string): void {
  assert.ok(hasTool(name), `${name} is not installed: apt-get install ${pkg} (npm test's set-up does)`);
}

function hasTool(name: string): boolean {
  return (process.env['PATH'] ?? '')
    .split(':')
    .some((dir) => dir !== '' && fs.existsSync(path.join(dir, name)));
}

function run(cmd: string, args: string[]): string {
  // readelf complains on stderr about debug-only files; only stdout matters.
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 });
}

function readelfBuildId(file: string): string | null {
  const m = /Build ID: ([0-9a-f]+)/.exec(run('readelf', ['-n', file]));
  return m?.[1] ?? null;
}

interface ReadelfSymbol {
  table: string;
  value: bigint;
  size: number;
  type: string;
  ndx: string;
  name: string;
}

function readelfSymbols(file: string): ReadelfSymbol[] {
  const out: ReadelfSymbol[] = [];
  let table = '';
  for (const line of run('readelf', ['-Ws', file]).split('\n')) {
    const header = /^Symbol table '([^']+)'/.exec(line);
    if (header) {
      table = header[1] ?? '';
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^\d+:$/.test(f[0] ?? '')) continue;
    const sizeText = f[2] ?? '0';
    out.push({
      table,
      value: BigInt('0x' + (f[1] ?? '0')),
      size: sizeText.startsWith('0x') ? Number.parseInt(sizeText, 16) : Number.parseInt(sizeText, 10),
      type: f[3] ?? '',
      ndx: f[6] ?? '',
      name: (f[7] ?? '').replace(/@.*$/, ''),
    });
  }
  return out;
}

function readelfLoadSegments(file: string): ElfSegment[] {
  const out: ElfSegment[] = [];
  const re = /^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+([RWE ]+?)\s+0x[0-9a-f]+\s*$/;
  for (const line of run('readelf', ['-lW', file]).split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const flagText = m[5] ?? '';
    const flags = (flagText.includes('R') ? 4 : 0) | (flagText.includes('W') ? 2 : 0) | (flagText.includes('E') ? 1 : 0);
    out.push({
      offset: BigInt(m[1] ?? '0'),
      vaddr: BigInt(m[2] ?? '0'),
      filesz: BigInt(m[3] ?? '0'),
      memsz: BigInt(m[4] ?? '0'),
      flags,
    });
  }
  return out;
}

// ---- child processes: every one is killed at the end, no sleeps ----

const children = new Set<ChildProcess>();

interface Child {
  proc: ChildProcess;
  pid: number;
  firstLine: string;
}

async function startChild(cmd: string, args: string[]): Promise<Child> {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const stdout = proc.stdout;
  if (stdout === null || proc.pid === undefined) throw new Error(`cannot start ${cmd}`);
  const pid = proc.pid;
  const lines = createInterface({ input: stdout });
  const firstLine = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`${cmd} exited (${String(code)}) before printing`)));
  });
  lines.close();
  return { proc, pid, firstLine };
}

async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.proc.once('exit', () => resolve()));
  child.proc.kill('SIGKILL');
  await exited;
}

after(async () => {
  await Promise.all(
    [...children].map(async (proc) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGKILL');
      await exited;
    }),
  );
});

interface MapLine {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  path: string;
}

function parseMaps(text: string): MapLine[] {
  const out: MapLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: BigInt('0x' + (m[1] ?? '0')),
      end: BigInt('0x' + (m[2] ?? '0')),
      perms: m[3] ?? '',
      offset: BigInt('0x' + (m[4] ?? '0')),
      path: m[5] ?? '',
    });
  }
  return out;
}

// Load bias of a file in a process, computed here independently of the
// addon: the executable mapping's file offset lies in one PT_LOAD.
function loadBias(maps: MapLine[], file: string): bigint {
  const segments = readelfLoadSegments(file);
  const real = fs.realpathSync(file);
  for (const m of maps) {
    if (!m.perms.includes('x') || m.path === '' || !m.path.startsWith('/')) continue;
    if (fs.realpathSync(m.path) !== real) continue;
    for (const seg of segments) {
      const pageStart = seg.offset & ~0xfffn;
      if (m.offset >= pageStart && m.offset < seg.offset + seg.filesz) {
        return m.start - m.offset + seg.offset - seg.vaddr;
      }
    }
  }
  throw new Error(`${file} is not mapped executable`);
}

function mappedPath(maps: MapLine[], suffix: string): string {
  const hit = maps.find((m) => m.perms.includes('x') && m.path.endsWith(suffix));
  if (!hit) throw new Error(`no executable mapping ending in ${suffix}`);
  return hit.path;
}

// ---- elfInfo ----

describe('elfInfo', () => {
  test('pyenv libpython: shared object with DWARF inside', () => {
    const info = addon.elfInfo(LIBPYTHON);
    assert.equal(info.type, 'dyn');
    assert.equal(info.hasDebugInfo, true);
    assert.equal(info.hasSymtab, true);
    assert.equal(info.debuglink, null);
    assert.equal(info.buildId, readelfBuildId(LIBPYTHON));
    assert.match(info.buildId ?? '', /^[0-9a-f]{40}$/);
    assert.deepEqual(info.loadSegments, readelfLoadSegments(LIBPYTHON));
  });

  test('Debian python3.11: stripped non-PIE executable with a debuglink', () => {
    const info = addon.elfInfo(SYSTEM_PYTHON);
    assert.equal(info.type, 'exec');
    assert.equal(info.hasDebugInfo, false);
    assert.equal(info.hasSymtab, false);
    assert.equal(info.buildId, readelfBuildId(SYSTEM_PYTHON));
    const dump = run('readelf', ['-p', '.gnu_debuglink', SYSTEM_PYTHON]);
    const link = /\[\s*0\]\s+(\S+)/.exec(dump)?.[1] ?? null;
    assert.notEqual(link, null);
    assert.equal(info.debuglink, link);
    assert.deepEqual(info.loadSegments, readelfLoadSegments(SYSTEM_PYTHON));
  });

  test('missing file throws ENOENT naming the path', () => {
    const missing = path.join(os.tmpdir(), 'mixprof-no-such-file.so');
    assert.throws(() => addon.elfInfo(missing), (err: unknown) => {
      const e = err as Error & { code?: string };
      return e.code === 'ENOENT' && e.message.includes(missing);
    });
  });

  test('non-ELF file throws ENOTELF naming the path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixprof-elf-'));
    try {
      const file = path.join(dir, 'text.txt');
      fs.writeFileSync(file, 'not an ELF file\n');
      assert.throws(() => addon.elfInfo(file), (err: unknown) => {
        const e = err as Error & { code?: string };
        return e.code === 'ENOTELF' && e.message.includes(file);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- lookupSymbols ----

describe('lookupSymbols', () => {
  for (const file of [LIBPYTHON, SYSTEM_PYTHON]) {
    test(`finds _PyRuntime and Py_Version in ${file}`, () => {
      const names = ['_PyRuntime', 'Py_Version', 'PyObject_GetAttr', 'mixprof_no_such_symbol'];
      const got = addon.lookupSymbols(file, names);
      const symbols = readelfSymbols(file).filter((s) => s.ndx !== 'UND');
      const expected = (name: string): ReadelfSymbol | undefined =>
        symbols.find((s) => s.table === '.symtab' && s.name === name) ??
        symbols.find((s) => s.table === '.dynsym' && s.name === name);
      for (const name of ['_PyRuntime', 'Py_Version', 'PyObject_GetAttr']) {
        const want = expected(name);
        assert.ok(want, `readelf lists ${name}`);
        assert.deepEqual(got[name], { value: want.value, size: want.size }, name);
      }
      assert.equal('mixprof_no_such_symbol' in got, false);
    });
  }
});

// ---- structLayout ----

// Known CPython 3.11 x86-64 layouts, checked with
// `gdb -batch -ex 'ptype/o struct _ts' ... libpython3.11.so.1.0`; the
// gdb test below re-derives the non-bitfield ones on every run.
const PY311_REQUESTS = [
  { type: 'PyThreadState', members: ['next', 'native_thread_id', 'cframe'] },
  { type: '_PyCFrame', members: ['current_frame'] },
  { type: '_PyInterpreterFrame', members: ['f_code', 'previous', 'prev_instr', 'is_entry', 'owner'] },
  { type: '_PyRuntimeState', members: ['interpreters.head'] },
  { type: 'PyInterpreterState', members: ['threads.head'] },
  { type: 'PyASCIIObject', members: ['length', 'state.kind', 'state.compact', 'state.ascii'] },
  { type: 'PyCompactUnicodeObject', members: [] },
];

describe('structLayout', () => {
  test('CPython 3.11 layouts from pyenv libpython DWARF', () => {
    const [ts, cframe, frame, runtime, interp, ascii, compact] = addon.structLayout(LIBPYTHON, PY311_REQUESTS);
    assert.deepEqual(ts?.members, {
      next: { offset: 8, size: 8 },
      native_thread_id: { offset: 160, size: 8 },
      cframe: { offset: 56, size: 8 },
    });
    assert.equal(ts?.size, 360);
    assert.deepEqual(cframe?.members, { current_frame: { offset: 8, size: 8 } });
    assert.deepEqual(frame?.members, {
      f_code: { offset: 32, size: 8 },
      previous: { offset: 48, size: 8 },
      prev_instr: { offset: 56, size: 8 },
      is_entry: { offset: 68, size: 1 },
      owner: { offset: 69, size: 1 },
    });
    // Typedef -> struct tag resolution, and dotted paths into nested structs.
    assert.deepEqual(runtime?.members, { 'interpreters.head': { offset: 40, size: 8 } });
    assert.deepEqual(interp?.members, { 'threads.head': { offset: 16, size: 8 } });
    // Bitfields: storage unit offset plus bit position from its LSB.
    assert.deepEqual(ascii?.members, {
      length: { offset: 16, size: 8 },
      'state.kind': { offset: 32, size: 4, bitOffset: 2, bitSize: 3 },
      'state.compact': { offset: 32, size: 4, bitOffset: 5, bitSize: 1 },
      'state.ascii': { offset: 32, size: 4, bitOffset: 6, bitSize: 1 },
    });
    assert.equal(ascii?.size, 48);
    assert.equal(compact?.size, 72);
    assert.equal(ascii?.type, 'PyASCIIObject');
  });

  test('unknown types and members are null, not errors', () => {
    const [unknownType, known] = addon.structLayout(LIBPYTHON, [
      { type: 'mixprof_no_such_type', members: ['a', 'b.c'] },
      { type: 'PyThreadState', members: ['no_such_member', 'interp.x', 'next.', ''] },
    ]);
    assert.deepEqual(unknownType, { type: 'mixprof_no_such_type', size: null, members: { a: null, 'b.c': null } });
    // `interp` is a pointer: paths do not go through pointers.
    assert.deepEqual(known?.members, { no_such_member: null, 'interp.x': null, 'next.': null, '': null });
  });

  test('errors: missing file, non-ELF, ELF without DWARF', () => {
    assert.throws(() => addon.structLayout('/nonexistent/mixprof.debug', []), { code: 'ENOENT' });
    assert.throws(() => addon.structLayout('/etc/hostname', []), { code: 'ENOTELF' });
    assert.throws(() => addon.structLayout(SYSTEM_PYTHON, []), { code: 'ENODWARF' });
  });

  test('offsets agree with gdb', () => {
    requireTool('gdb', 'gdb');
    const checks: Array<[string, string]> = [
      ['PyThreadState', 'next'],
      ['PyThreadState', 'native_thread_id'],
      ['PyThreadState', 'cframe'],
      ['_PyCFrame', 'current_frame'],
      ['_PyInterpreterFrame', 'f_code'],
      ['_PyInterpreterFrame', 'previous'],
      ['_PyInterpreterFrame', 'prev_instr'],
      ['_PyInterpreterFrame', 'is_entry'],
      ['_PyInterpreterFrame', 'owner'],
      ['_PyRuntimeState', 'interpreters.head'],
      ['PyInterpreterState', 'threads.head'],
      ['PyASCIIObject', 'length'],
    ];
    const sizes = ['PyASCIIObject', 'PyCompactUnicodeObject', 'PyThreadState'];
    const args = ['-batch', '-nx'];
    for (const [type, member] of checks) args.push('-ex', `print/d (long)&((${type}*)0)->${member}`);
    for (const type of sizes) args.push('-ex', `print/d sizeof(${type})`);
    args.push(LIBPYTHON);
    const values = [...run('gdb', args).matchAll(/^\$\d+ = (-?\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(values.length, checks.length + sizes.length, 'gdb answered every query');

    const byType = new Map<string, string[]>();
    for (const [type, member] of checks) byType.set(type, [...(byType.get(type) ?? []), member]);
    for (const type of sizes) if (!byType.has(type)) byType.set(type, []);
    const requests = [...byType].map(([type, members]) => ({ type, members }));
    const layouts = new Map(addon.structLayout(LIBPYTHON, requests).map((l) => [l.type, l]));
    checks.forEach(([type, member], i) => {
      assert.equal(layouts.get(type)?.members[member]?.offset, values[i], `${type}.${member}`);
    });
    sizes.forEach((type, i) => {
      assert.equal(layouts.get(type)?.size, values[checks.length + i], `sizeof(${type})`);
    });
  });

  const libcBuildId = fs.existsSync('/lib/x86_64-linux-gnu/libc.so.6')
    ? readelfBuildId('/lib/x86_64-linux-gnu/libc.so.6')
    : null;
  const libcDebug =
    libcBuildId === null
      ? null
      : `/usr/lib/debug/.build-id/${libcBuildId.slice(0, 2)}/${libcBuildId.slice(2)}.debug`;
  const haveLibcDebug = libcDebug !== null && fs.existsSync(libcDebug);

  test('separate .debug file with compressed sections (libc6-dbg)', () => {
    assert.ok(haveLibcDebug, 'libc6-dbg is not installed: run `npm run setup -- --test` or apt-get install libc6-dbg');
    const file = libcDebug ?? '';
    // The Debian debug file stores .debug_* as SHF_COMPRESSED ("C").
    assert.match(run('readelf', ['-SW', file]), /\.debug_info\s+PROGBITS\s+\S+\s+\S+\s+\S+\s+\S+\s+C/);
    const [file_t, typedef] = addon.structLayout(file, [
      { type: '_IO_FILE', members: ['_flags', '_fileno'] },
      { type: 'FILE', members: ['_fileno'] },
    ]);
    assert.deepEqual(file_t?.members, { _flags: { offset: 0, size: 4 }, _fileno: { offset: 112, size: 4 } });
    assert.equal(file_t?.size, 216);
    assert.deepEqual(typedef?.members, { _fileno: { offset: 112, size: 4 } });
  });

  // Every DWARF flavour gcc can emit must give the same answer.
  const haveGcc = hasTool('gcc');
  test('DWARF 2-5, type units, compressed sections', () => {
    assert.ok(haveGcc, 'gcc is not installed');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixprof-dwarf-'));
    try {
      const src = path.join(dir, 'layout.c');
      fs.writeFileSync(
        src,
        `struct inner { unsigned a : 3; unsigned b : 7; int c; };
typedef struct outer {
  long x;
  union { struct { char p; short q; }; double d; };
  struct inner in;
  struct { unsigned int f1 : 1, f2 : 30; } named;
  const volatile struct inner cv;
  int arr[5];
} outer_t;
typedef struct fwd fwd_t;
struct fwd { int z[3]; char w; };
outer_t g;
fwd_t *gp;
int main(void) { return (int)sizeof(g) + (gp ? gp->w : 0); }
`,
      );
      const variants: Record<string, string[]> = {
        dwarf2: ['-gdwarf-2'],
        dwarf3: ['-gdwarf-3'],
        dwarf4: ['-gdwarf-4'],
        dwarf5: ['-gdwarf-5'],
        types4: ['-gdwarf-4', '-fdebug-types-section'],
        types5: ['-gdwarf-5', '-fdebug-types-section'],
        zlib: ['-gdwarf-5', '-gz=zlib'],
        zlibGnu: ['-gdwarf-4', '-gz=zlib-gnu'],
      };
      // Offsets as `gdb -batch -ex 'ptype/o outer_t'` prints them.
      const expected: StructLayoutResult[] = [
        {
          type: 'outer_t',
          size: 56,
          members: {
            x: { offset: 0, size: 8 },
            p: { offset: 8, size: 1 },
            q: { offset: 10, size: 2 },
            d: { offset: 8, size: 8 },
            in: { offset: 16, size: 8 },
            'in.a': { offset: 16, size: 4, bitOffset: 0, bitSize: 3 },
            'in.b': { offset: 16, size: 4, bitOffset: 3, bitSize: 7 },
            'in.c': { offset: 20, size: 4 },
            'named.f2': { offset: 24, size: 4, bitOffset: 1, bitSize: 30 },
            'cv.b': { offset: 28, size: 4, bitOffset: 3, bitSize: 7 },
            'cv.c': { offset: 32, size: 4 },
            arr: { offset: 36, size: 20 },
            'in.a.x': null,
          },
        },
        { type: 'fwd_t', size: 16, members: { z: { offset: 0, size: 12 }, w: { offset: 12, size: 1 } } },
      ];
      const requests = expected.map((e) => ({ type: e.type, members: Object.keys(e.members) }));
      for (const [name, flags] of Object.entries(variants)) {
        const out = path.join(dir, name);
        execFileSync('gcc', ['-g', '-O0', ...flags, src, '-o', out], { stdio: 'ignore' });
        assert.deepEqual(addon.structLayout(out, requests), expected, name);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('C++ base class members', () => {
    requireTool('g++', 'g++');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixprof-dwarf-'));
    try {
      const src = path.join(dir, 'inherit.cc');
      fs.writeFileSync(
        src,
        'struct Base { long a; };\nstruct Mid { int m; };\nstruct Derived : Base, Mid { int b; };\n' +
          'Derived d;\nint main() { return d.b; }\n',
      );
      const out = path.join(dir, 'inherit');
      execFileSync('g++', ['-g', src, '-o', out], { stdio: 'ignore' });
      assert.deepEqual(addon.structLayout(out, [{ type: 'Derived', members: ['a', 'm', 'b'] }]), [
        {
          type: 'Derived',
          size: 16,
          members: { a: { offset: 0, size: 8 }, m: { offset: 8, size: 4 }, b: { offset: 12, size: 4 } },
        },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- readMemory / readMemoryBatch ----

describe('readMemory', () => {
  // ob_sval of a bytes object is at offset 32 on 64-bit CPython 3.11.
  const script =
    'import sys\n' +
    'b = bytes(range(256)) * 8\n' +
    'print(id(b) + 32, flush=True)\n' +
    'sys.stdin.read()\n';
  const content = Buffer.alloc(2048);
  for (let i = 0; i < content.length; i++) content[i] = i % 256;
  const unmapped = 0x10n; // page zero is never mapped
  const noSuchPid = 0x7ffffff0; // above the kernel's PID_MAX_LIMIT

  test('reads a live process and reports unreadable regions as null', async () => {
    const child = await startChild(PYENV_PYTHON, ['-c', script]);
    try {
      const addr = BigInt(child.firstLine.trim());
      assert.deepEqual(addon.readMemory(child.pid, addr, 2048), content);
      assert.deepEqual(addon.readMemory(child.pid, addr + 100n, 7), content.subarray(100, 107));
      assert.deepEqual(addon.readMemory(child.pid, addr, 0), Buffer.alloc(0));
      assert.equal(addon.readMemory(child.pid, unmapped, 8), null);
      assert.equal(addon.readMemory(noSuchPid, addr, 8), null);

      const batch = addon.readMemoryBatch(
        child.pid,
        new BigUint64Array([addr, unmapped, addr + 300n, addr, addr + 2000n]),
        new Uint32Array([16, 8, 32, 0, 48]),
      );
      assert.deepEqual(batch, [
        content.subarray(0, 16),
        null,
        content.subarray(300, 332),
        Buffer.alloc(0),
        content.subarray(2000, 2048),
      ]);

      // More regions than one process_vm_readv call takes (IOV_MAX), with
      // unreadable ones at the start, middle and end.
      const n = 2500;
      const addrs = new BigUint64Array(n);
      const lengths = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        addrs[i] = addr + BigInt(i % 2000);
        lengths[i] = 1 + (i % 40);
      }
      for (const bad of [0, 1024, 1500, n - 1]) addrs[bad] = unmapped;
      const many = addon.readMemoryBatch(child.pid, addrs, lengths);
      assert.equal(many.length, n);
      for (let i = 0; i < n; i++) {
        const got = many[i];
        if ([0, 1024, 1500, n - 1].includes(i)) {
          assert.equal(got, null, `region ${i}`);
        } else {
          const off = i % 2000;
          assert.deepEqual(got, content.subarray(off, off + 1 + (i % 40)), `region ${i}`);
        }
      }

      assert.deepEqual(
        addon.readMemoryBatch(noSuchPid, new BigUint64Array([addr]), new Uint32Array([4])),
        [null],
      );
    } finally {
      await stopChild(child);
    }
  });

  test('argument checks', () => {
    assert.throws(() => addon.readMemory(process.pid, 0x1000n, (16 << 20) + 1), RangeError);
    assert.throws(() => addon.readMemory(process.pid, 0x1000n, -1), RangeError);
    assert.throws(() => addon.readMemory(0, 0x1000n, 1), RangeError);
    assert.throws(() => addon.readMemory(process.pid, 0x1000 as unknown as bigint, 1), TypeError);
    assert.throws(
      () => addon.readMemoryBatch(process.pid, new BigUint64Array(2), new Uint32Array(1)),
      RangeError,
    );
    assert.throws(
      () => addon.readMemoryBatch(process.pid, new BigUint64Array(1), new Uint32Array([(16 << 20) + 1])),
      RangeError,
    );
  });
});

// ---- Symbolizer ----

describe('Symbolizer on a pyenv python process', () => {
  test('names, modules, gaps, frame pointers', async () => {
    const child = await startChild(PYENV_PYTHON, ['-c', 'import sys; print("ready", flush=True); sys.stdin.read()']);
    try {
      const mapsText = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
      const maps = parseMaps(mapsText);
      const symbolizer = new addon.Symbolizer({ maps: mapsText });

      // PyObject_GetAttr + 4, placed with a bias computed by the test.
      const pyBias = loadBias(maps, LIBPYTHON);
      const pySyms = readelfSymbols(LIBPYTHON).filter((s) => s.table === '.symtab');
      const getAttr = addon.lookupSymbols(LIBPYTHON, ['PyObject_GetAttr'])['PyObject_GetAttr'];
      assert.ok(getAttr);

      // A gap: the byte after a sized function that no symbol covers.
      const textSyms = pySyms
        .filter((s) => s.ndx !== 'UND' && s.ndx !== 'ABS' && s.value > 0n)
        .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
      let gap: bigint | null = null;
      for (let i = 0; i + 1 < textSyms.length && gap === null; i++) {
        const cur = textSyms[i];
        const next = textSyms[i + 1];
        if (!cur || !next || cur.type !== 'FUNC' || cur.size === 0) continue;
        const end = cur.value + BigInt(cur.size);
        const sameStart = textSyms.filter((s) => s.value === cur.value);
        if (next.value > end && sameStart.every((s) => s.size > 0)) gap = end;
      }
      assert.ok(gap !== null, 'found a gap between functions');

      const anon = maps.find((m) => m.path === '' && m.perms.startsWith('rw'));
      assert.ok(anon, 'an anonymous mapping exists');

      const libcPath = mappedPath(maps, '/libc.so.6');
      const libcBias = loadBias(maps, libcPath);
      const getenv = addon.lookupSymbols(libcPath, ['getenv'])['getenv'];
      assert.ok(getenv);

      const addrs = new BigUint64Array([
        pyBias + getAttr.value + 4n,
        pyBias + gap,
        anon.start + 8n,
        libcBias + getenv.value + 10n,
        pyBias + getAttr.value + 4n,
      ]);
      const [attr, gapFrame, anonFrame, libcFrame, again] = symbolizer.symbolize(addrs);

      const textSeg = readelfLoadSegments(LIBPYTHON).find(
        (s) => getAttr.value >= s.vaddr && getAttr.value < s.vaddr + s.filesz,
      );
      assert.ok(textSeg);
      assert.equal(attr?.name, 'PyObject_GetAttr');
      assert.equal(attr?.symOffset, 4);
      assert.ok(attr?.module?.endsWith('/libpython3.11.so.1.0'), String(attr?.module));
      assert.equal(attr?.relAddr, getAttr.value + 4n);
      assert.equal(attr?.fileOffset, getAttr.value + 4n - textSeg.vaddr + textSeg.offset);
      // pyenv builds omit frame pointers: PyObject_GetAttr opens with
      // push %r15, not push %rbp; mov %rsp,%rbp (checked with objdump).
      assert.equal(attr?.functionFramePointer, false);
      // Its CFI addresses the frame from %rsp, not %rbp.
      assert.equal(attr?.framePointer, false);
      assert.equal(attr?.frameReady, false);
      requireTool('objdump', 'binutils');
      {
        const start = `0x${getAttr.value.toString(16)}`;
        const stop = `0x${(getAttr.value + 8n).toString(16)}`;
        const dis = run('objdump', ['-d', `--start-address=${start}`, `--stop-address=${stop}`, LIBPYTHON]);
        assert.match(dis, /<PyObject_GetAttr>:/);
        assert.doesNotMatch(dis, /mov\s+%rsp,%rbp/);
      }
      assert.deepEqual(again, attr);

      assert.equal(gapFrame?.name, null);
      assert.equal(gapFrame?.functionFramePointer, null);
      assert.ok(gapFrame?.module?.endsWith('/libpython3.11.so.1.0'));

      assert.equal(anonFrame?.module, null);
      assert.equal(anonFrame?.name, null);
      assert.equal(anonFrame?.fileOffset, null);

      // libc exports getenv once, but its debug symtab may hold aliases.
      assert.equal(libcFrame?.module, libcPath);
      const libcNames = new Set(
        readelfSymbols(libcPath)
          .filter((s) => s.value === getenv.value && s.type === 'FUNC')
          .map((s) => s.name),
      );
      const libcMod = symbolizer.modules().find((m) => m.name === libcPath);
      assert.ok(libcMod);
      if (libcMod.debugFile !== null) {
        for (const s of readelfSymbols(libcMod.debugFile)) {
          if (s.value === getenv.value && s.type === 'FUNC') libcNames.add(s.name);
        }
      }
      assert.ok(libcNames.has(libcFrame?.name ?? ''), `${String(libcFrame?.name)} in ${[...libcNames].join(',')}`);
      assert.equal(libcFrame?.symOffset, 10);
      assert.equal(typeof libcFrame?.framePointer, 'boolean');

      // Diagnostics.
      const mods = symbolizer.modules();
      const py = mods.find((m) => m.name.endsWith('/libpython3.11.so.1.0'));
      assert.ok(py);
      assert.equal(py.buildId, readelfBuildId(LIBPYTHON));
      assert.equal(py.hasDebugInfo, true);
      assert.equal(py.bias, pyBias);
      assert.ok(py.low <= pyBias + getAttr.value && pyBias + getAttr.value < py.high);
      assert.ok(py.symbolCount >= pySyms.length / 2, `symbolCount ${py.symbolCount}`);
      const libcDebugPath = libcMod.debugFile;
      if (libcDebugPath !== null) {
        assert.equal(libcMod.hasDebugInfo, true);
        assert.equal(readelfBuildId(libcDebugPath), libcMod.buildId);
      }

      // Files opened through the target's root give the same answers.
      const rooted = new addon.Symbolizer({ maps: mapsText, root: `/proc/${child.pid}/root/` });
      try {
        assert.deepEqual(rooted.symbolize(addrs.subarray(0, 1)), [attr]);
        const rootedPy = rooted.modules().find((m) => m.name === py.name);
        assert.equal(rootedPy?.mainFile, `/proc/${child.pid}/root${py.name}`);
      } finally {
        rooted.close();
      }

      // A newer snapshot with the same modules gives the same answers.
      symbolizer.updateMaps(mapsText);
      assert.deepEqual(symbolizer.symbolize(addrs), [attr, gapFrame, anonFrame, libcFrame, again]);

      symbolizer.close();
      assert.throws(() => symbolizer.symbolize(addrs), { code: 'ECLOSED' });
      symbolizer.close(); // idempotent
    } finally {
      await stopChild(child);
    }
  });

  test('debugDirs decides where separate debug files are looked up', () => {
    const mapsText = fs.readFileSync('/proc/self/maps', 'utf8');
    const libcPath = mappedPath(parseMaps(mapsText), '/libc.so.6');
    const libcId = readelfBuildId(libcPath) ?? '';
    const systemDebug = `/usr/lib/debug/.build-id/${libcId.slice(0, 2)}/${libcId.slice(2)}.debug`;
    const debugFileWith = (debugDirs: string[] | undefined): string | null => {
      const symbolizer = new addon.Symbolizer(debugDirs === undefined ? { maps: mapsText } : { maps: mapsText, debugDirs });
      try {
        return symbolizer.modules().find((m) => m.name === libcPath)?.debugFile ?? null;
      } finally {
        symbolizer.close();
      }
    };
    assert.equal(debugFileWith([]), null);
    assert.equal(debugFileWith(undefined), fs.existsSync(systemDebug) ? systemDebug : null);
  });

  test('updateMaps drops modules that are gone', () => {
    const mapsText = fs.readFileSync('/proc/self/maps', 'utf8');
    const maps = parseMaps(mapsText);
    const nodeExe = maps.find((m) => m.perms.includes('x') && m.path.startsWith('/'));
    assert.ok(nodeExe);
    const symbolizer = new addon.Symbolizer({ maps: mapsText });
    try {
      const probe = new BigUint64Array([nodeExe.start]);
      assert.equal(symbolizer.symbolize(probe)[0]?.module, nodeExe.path);
      symbolizer.updateMaps('');
      assert.equal(symbolizer.modules().length, 0);
      assert.equal(symbolizer.symbolize(probe)[0]?.module, null);
    } finally {
      symbolizer.close();
    }
  });

  test("symbol spans: every address of node's code is named as libdwfl's own lookup names it", () => {
    const mapsText = fs.readFileSync('/proc/self/maps', 'utf8');
    const code = parseMaps(mapsText).filter((m) => m.perms.includes('x') && m.path.startsWith('/'));
    const spread: bigint[] = [];
    // libdwfl reads node's whole symbol table (100k+ symbols) for each address it is asked directly: a few hundred a mapping.
    for (const m of code) for (let i = 0n; i < 400n; i++) spread.push(m.start + ((m.end - m.start) * i) / 400n);
    const direct = (() => {
      process.env['MIXPROF_SYMBOL_SPANS'] = '0';
      try {
        return new addon.Symbolizer({ maps: mapsText });
      } finally {
        delete process.env['MIXPROF_SYMBOL_SPANS'];
      }
    })();
    const spans = new addon.Symbolizer({ maps: mapsText });
    try {
      // Each named function's first bytes and the byte before it too: where one symbol ends and the next begins.
      const starts = direct.symbolize(new BigUint64Array(spread)).flatMap((s, i) => (s.name !== null ? [spread[i]! - BigInt(s.symOffset)] : []));
      const edges = starts.flatMap((s) => [s - 1n, s, s + 1n]);
      // Twice over and in two orders, so that answers come from spans already met.
      const addresses = new BigUint64Array([...new Set([...spread, ...edges])]);
      const reversed = addresses.slice().reverse();
      const got = [...spans.symbolize(addresses), ...spans.symbolize(reversed)];
      const once = direct.symbolize(addresses);
      const want = [...once, ...once.slice().reverse()];
      let named = 0;
      const asked = [...addresses, ...reversed];
      for (let i = 0; i < asked.length; i++) {
        const [g, w] = [got[i]!, want[i]!];
        assert.deepEqual([g.name, g.symOffset], [w.name, w.symOffset], asked[i]!.toString(16));
        if (w.name !== null) named++;
      }
      assert.ok(named > asked.length / 2, `${named} of ${asked.length} named`);
      assert.ok(new Set(starts).size > 500, `${new Set(starts).size} distinct functions`);
    } finally {
      spans.close();
      direct.close();
    }
  });

  test("frame starts: every address of node's code is counted by what symbolize() names it from (its function's start, or the .eh_frame function's without a symbol)", () => {
    const mapsText = fs.readFileSync('/proc/self/maps', 'utf8');
    const code = parseMaps(mapsText).filter((m) => m.perms.includes('x') && m.path.startsWith('/'));
    const symbolizer = new addon.Symbolizer({ maps: mapsText });
    try {
      // Addresses spread over every code mapping (node, libc, libstdc++, this addon), twice over so that the caches answer too.
      const spread: bigint[] = [];
      for (const m of code) for (let i = 0n; i < 400n; i++) spread.push(m.start + ((m.end - m.start) * i) / 400n);
      const addresses = new BigUint64Array([...spread, ...spread]);
      const starts = symbolizer.frameStarts(addresses);
      const named = symbolizer.symbolize(addresses);
      let byName = 0;
      let byFde = 0;
      for (let i = 0; i < addresses.length; i++) {
        const s = named[i]!;
        const address = addresses[i]!;
        const expected = s.name !== null ? address - BigInt(s.symOffset) : s.fdeDistance !== null ? (address - BigInt(s.fdeDistance)) | (1n << 63n) : address;
        assert.equal(starts[i], expected, `${address.toString(16)} (${s.name ?? s.module})`);
        if (s.name !== null) byName++;
        else if (s.fdeDistance !== null) byFde++;
      }
      assert.ok(byName > addresses.length / 4, `${byName} of ${addresses.length} named`);
      // Equal starts are one frame: named alike.
      const nameOf = new Map<bigint, string | null>();
      for (let i = 0; i < addresses.length; i++) {
        const name = named[i]!.name;
        if (nameOf.has(starts[i]!)) assert.equal(name, nameOf.get(starts[i]!));
        else nameOf.set(starts[i]!, name);
      }
      assert.ok(nameOf.size > 100, `${nameOf.size} distinct functions`);
      assert.ok(byFde > 0, 'some addresses lie outside every symbol, within .eh_frame functions');
    } finally {
      symbolizer.close();
    }
  });
});

const haveCompilers = hasTool('gcc') && hasTool('g++') && hasTool('objcopy') && hasTool('strip');

describe('Symbolizer on programs built here', () => {
  before(() => assert.ok(haveCompilers, 'gcc, g++ and binutils are needed: run `npm run setup -- --test`'));
  const program = `
#include <stdio.h>
#include <unistd.h>
NS_OPEN
__attribute__((noinline)) int mp_work(int x) { return x * 3 + 1; }
NS_CLOSE
static __attribute__((noinline)) int mp_helper(int x) { return NS mp_work(x) + 2; }
int main(void) {
  printf("%lx %lx\\n", (unsigned long)(void *)&NS mp_work, (unsigned long)(void *)&mp_helper);
  fflush(stdout);
  char c;
  if (read(0, &c, 1) < 0) return 1;
  return mp_helper(1) == 0;
}
`;

  function build(dir: string, name: string, compiler: string, flags: string[], cxx: boolean): string {
    const src = path.join(dir, `${name}.${cxx ? 'cc' : 'c'}`);
    const defines = cxx
      ? ['-DNS_OPEN=namespace mp {', '-DNS_CLOSE=}', '-DNS=mp::']
      : ['-DNS_OPEN=', '-DNS_CLOSE=', '-DNS='];
    fs.writeFileSync(src, program);
    const out = path.join(dir, name);
    execFileSync(compiler, [...defines, ...flags, src, '-o', out], { stdio: 'ignore' });
    return out;
  }

  test('stripped PIE with frame pointers: debuglink, demangling, text at offset 0', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixprof-sym-'));
    try {
      // noseparate-code puts code in the first mapping, at file offset 0.
      // -O0: gcc sets up a frame even in leaf functions.
      const exe = build(dir, 'fp', 'g++', ['-g', '-O0', '-fno-omit-frame-pointer', '-fPIE', '-pie', '-Wl,-z,noseparate-code'], true);
      const debug = `${exe}.debug`;
      execFileSync('objcopy', ['--only-keep-debug', exe, debug]);
      execFileSync('strip', ['--strip-all', exe]);
      execFileSync('objcopy', [`--add-gnu-debuglink=${debug}`, exe]);
      assert.equal(addon.elfInfo(exe).hasSymtab, false);
      assert.equal(addon.elfInfo(exe).debuglink, path.basename(debug));

      const child = await startChild(exe, []);
      try {
        const [work, helper] = child.firstLine.trim().split(' ').map((h) => BigInt('0x' + h));
        assert.ok(work !== undefined && helper !== undefined);
        const mapsText = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
        const symbolizer = new addon.Symbolizer({ maps: mapsText, debugDirs: [] });
        try {
          const [w, h] = symbolizer.symbolize(new BigUint64Array([work + 1n, helper]));
          assert.equal(w?.name, 'mp::mp_work(int)');
          assert.equal(w?.symOffset, 1);
          assert.equal(w?.functionFramePointer, true);
          // One byte in, after `push %rbp` and before `mov %rsp,%rbp`: the CFI says the frame is not set up
          // yet; %rbp, just pushed, still holds the caller's frame, and the return address is one word up.
          assert.equal(w?.frameReady, false);
          assert.equal(w?.returnSlot, 1);
          // At the first byte nothing is pushed: the return address is the word at the stack pointer.
          const [entry] = symbolizer.symbolize(new BigUint64Array([work]));
          assert.equal(entry?.frameReady, false);
          assert.equal(entry?.returnSlot, 0);
          assert.equal(w?.module, exe);
          assert.equal(h?.name, 'mp_helper(int)'); // static: only in the debug file
          assert.equal(h?.functionFramePointer, true);
          const mod = symbolizer.modules().find((m) => m.name === exe);
          assert.equal(mod?.debugFile, debug);
          const bias = loadBias(parseMaps(mapsText), exe);
          assert.equal(mod?.bias, bias);
          assert.equal(w?.relAddr, work + 1n - bias);
        } finally {
          symbolizer.close();
        }
      } finally {
        await stopChild(child);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stripped non-PIE without frame pointers: debug file only via extraFiles', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixprof-sym-'));
    try {
      const exe = build(dir, 'nofp', 'gcc', ['-g', '-O2', '-fomit-frame-pointer', '-no-pie'], false);
      const elsewhere = path.join(dir, 'symbols');
      fs.mkdirSync(elsewhere);
      const debug = path.join(elsewhere, 'nofp.sym');
      execFileSync('objcopy', ['--only-keep-debug', exe, debug]);
      execFileSync('strip', ['--strip-all', exe]);
      assert.equal(addon.elfInfo(exe).type, 'exec');
      assert.equal(addon.elfInfo(debug).buildId, addon.elfInfo(exe).buildId);

      const child = await startChild(exe, []);
      try {
        const [work] = child.firstLine.trim().split(' ').map((h) => BigInt('0x' + h));
        assert.ok(work !== undefined);
        const mapsText = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
        const addrs = new BigUint64Array([work]);

        const without = new addon.Symbolizer({ maps: mapsText, debugDirs: [] });
        try {
          const [frame] = without.symbolize(addrs);
          assert.equal(frame?.module, exe);
          assert.equal(frame?.name, null);
          assert.equal(frame?.relAddr, work); // ET_EXEC: no bias
        } finally {
          without.close();
        }

        const withExtra = new addon.Symbolizer({ maps: mapsText, debugDirs: [], extraFiles: [debug] });
        try {
          const [frame] = withExtra.symbolize(addrs);
          assert.equal(frame?.name, 'mp_work');
          assert.equal(frame?.symOffset, 0);
          assert.equal(frame?.functionFramePointer, false);
          assert.equal(frame?.relAddr, work);
          assert.equal(withExtra.modules().find((m) => m.name === exe)?.debugFile, debug);
        } finally {
          withExtra.close();
        }
      } finally {
        await stopChild(child);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test('deleted executable: mapping-only module, or a copy given in extraFiles', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixprof-sym-'));
    try {
      const exe = build(dir, 'gone', 'gcc', ['-g', '-O0'], false);
      const keep = path.join(dir, 'keep');
      fs.mkdirSync(keep);
      const copy = path.join(keep, 'gone');
      fs.copyFileSync(exe, copy);
      const child = await startChild(exe, []);
      try {
        fs.unlinkSync(exe);
        const [work] = child.firstLine.trim().split(' ').map((h) => BigInt('0x' + h));
        assert.ok(work !== undefined);
        const mapsText = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
        const moduleName = `${exe} (deleted)`;
        assert.ok(mapsText.includes(moduleName));
        const bias = loadBias(
          parseMaps(mapsText).map((m) => ({ ...m, path: m.path === moduleName ? copy : m.path })),
          copy,
        );
        const vaddr = work - bias;
        const seg = addon.elfInfo(copy).loadSegments.find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
        assert.ok(seg);
        const fileOffset = vaddr - seg.vaddr + seg.offset;
        const addrs = new BigUint64Array([work + 2n]);

        const bare = new addon.Symbolizer({ maps: mapsText, debugDirs: [] });
        try {
          for (let round = 0; round < 2; round++) {
            const [frame] = bare.symbolize(addrs);
            assert.equal(frame?.module, moduleName);
            assert.equal(frame?.name, null);
            assert.equal(frame?.fileOffset, fileOffset + 2n);
            bare.updateMaps(mapsText); // the mapping-only module survives
          }
        } finally {
          bare.close();
        }

        const withCopy = new addon.Symbolizer({ maps: mapsText, debugDirs: [], extraFiles: [copy] });
        try {
          const [frame] = withCopy.symbolize(addrs);
          assert.equal(frame?.module, moduleName);
          assert.equal(frame?.name, 'mp_work');
          assert.equal(frame?.symOffset, 2);
          assert.equal(frame?.relAddr, vaddr + 2n);
          assert.equal(frame?.fileOffset, fileOffset + 2n);
        } finally {
          withCopy.close();
        }
      } finally {
        await stopChild(child);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DwarfSampler options', () => {
  const symbolizer = (): InstanceType<typeof addon.Symbolizer> => new addon.Symbolizer({ maps: fs.readFileSync('/proc/self/maps', 'utf8') });
  const base = () => ({ object: dwarfSamplerObject(), pid: process.pid, hz: 99, maxFrames: 64, stackBytes: 8192, ringMiB: 1, symbolizer: symbolizer() });

  test('the BPF object is built with the addon', () => {
    assert.ok(fs.statSync(dwarfSamplerObject()).size > 0);
  });

  test('bad options are refused before anything is loaded', () => {
    assert.throws(() => new addon.DwarfSampler({ ...base(), stackBytes: 1500 }), /stackBytes must be a multiple of 1024/);
    assert.throws(() => new addon.DwarfSampler({ ...base(), ringMiB: 3 }), /ringMiB must be a power of two/);
    assert.throws(() => new addon.DwarfSampler({ ...base(), pid: 0 }), /pid must be an integer/);
    assert.throws(() => new addon.DwarfSampler({ ...base(), recordsKept: 8 }), /recordsKept must be an integer/);
    // Anything but a Symbolizer, even another addon object, is refused.
    assert.throws(() => new addon.DwarfSampler({ ...base(), symbolizer: {} as never }), /symbolizer must be a Symbolizer/);
    assert.throws(() => new addon.DwarfSampler({ ...base(), object: '/nonexistent.bpf.o' }), /cannot open \/nonexistent\.bpf\.o/);
  });

  test('a Python configuration must be struct walk_config, as packWalkConfig lays it out', () => {
    assert.throws(() => new addon.DwarfSampler({ ...base(), python: { maxDepth: 128, maxThreads: 16 } as never }), /options\.python must be a Uint8Array/);
    const { size } = walkConfigLayout();
    assert.throws(() => new addon.DwarfSampler({ ...base(), python: new Uint8Array(size - 8) }), new RegExp(`struct walk_config has ${size}\\b`));
    // The right size, but a depth of 0: read at the offsets the list gives.
    assert.throws(() => new addon.DwarfSampler({ ...base(), python: new Uint8Array(size) }), /max_depth must be in \[1, /);
  });
});

describe('releaseStartupPages', () => {
  test("drops node's own file pages from this process, which goes on working (in a child process)", () => {
    // The child reads its file-backed residency, releases, then runs code and checks a hash.
    const script = `
      const fs = require('node:fs');
      const rssFile = () => Number(/RssFile:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      const addon = require(process.argv[1]);
      const before = rssFile();
      const released = addon.releaseStartupPages();
      const after = rssFile();
      const hash = require('node:crypto').createHash('sha256').update('mixprof').digest('hex');
      process.stdout.write(JSON.stringify({ before, after, released, hash, sorted: [3, 1, 2].sort() }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script, addonFile()], { encoding: 'utf8' })) as {
      before: number;
      after: number;
      released: { fileBytes: number; mappings: number };
      hash: string;
      sorted: number[];
    };
    assert.ok(out.released.mappings > 0 && out.released.fileBytes > 8 * 2 ** 20, JSON.stringify(out));
    assert.ok(out.after < out.before - out.released.fileBytes / 2, JSON.stringify(out));
    assert.equal(out.hash, execFileSync('sh', ['-c', 'printf mixprof | sha256sum'], { encoding: 'utf8' }).split(' ')[0]);
    assert.deepEqual(out.sorted, [1, 2, 3]);
  });
});

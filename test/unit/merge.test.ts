import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MISMATCH_FRAME, mergeStacks, trustedNativeFrames, TRUNCATED_FRAME } from '../../src/profile/merge.js';
import type { NativeFrame, NativeRole } from '../../src/symbolize/native.js';
import type { PythonStack } from '../../src/symbolize/python-names.js';
import type { Frame } from '../../src/symbolize/frame.js';

let nextAddress = 0x1000n;
function nat(name: string, role: NativeRole = 'code', framePointer: boolean | null = true, mapped = true): NativeFrame {
  return { address: nextAddress++, name, symbol: name, module: '/lib/x.so', role, framePointer, functionFramePointer: framePointer, frameReady: framePointer, returnSlot: null, mapped };
}
const py = (...names: string[]): Frame[] => names.map((name) => ({ kind: 'python', name }));
const names = (frames: readonly Frame[]): string[] => frames.map((f) => f.name);
const HIDE = { hidePlumbing: true, maxNativeDepth: 127, nativeUnwind: 'fp' as const };

test('each eval-loop frame is replaced by its group of Python frames, innermost first', () => {
  const native = [
    nat('deflate'),
    nat('zlib_compress'),
    nat('_PyEval_EvalFrameDefault', 'eval'),
    nat('PyObject_Vectorcall', 'plumbing'),
    nat('list_sort'),
    nat('_PyEval_EvalFrameDefault', 'eval'),
    nat('Py_RunMain', 'plumbing'),
    nat('__libc_start_call_main', 'root'),
  ];
  const python: PythonStack = { groups: [py('leaf', 'caller'), py('sorter', 'main')], truncated: false, unknownFrames: 0 };
  const merged = mergeStacks(native, python, ['vfs_read', 'ksys_read'], HIDE);
  assert.deepEqual(names(merged.frames), ['__libc_start_call_main', 'main', 'sorter', 'list_sort', 'caller', 'leaf', 'zlib_compress', 'deflate', 'ksys_read', 'vfs_read']);
  assert.equal(merged.nativeComplete, true);
  assert.equal(merged.mismatched, false);
  assert.equal(merged.frames.at(-1)!.kind, 'kernel');
});

test('--no-hide keeps interpreter plumbing', () => {
  const native = [nat('_PyEval_EvalFrameDefault', 'eval'), nat('PyObject_Vectorcall', 'plumbing'), nat('start_thread', 'root')];
  const merged = mergeStacks(native, { groups: [py('f')], truncated: false, unknownFrames: 0 }, [], { hidePlumbing: false, maxNativeDepth: 127, nativeUnwind: 'fp' });
  assert.deepEqual(names(merged.frames), ['start_thread', 'PyObject_Vectorcall', 'f']);
});

test('without frame pointers only the leaf is trusted and Python frames go above it', () => {
  const native = [nat('deflate', 'code', false), nat('garbage1'), nat('garbage2')];
  assert.equal(trustedNativeFrames(native).length, 1);
  const merged = mergeStacks(native, { groups: [py('compress_loop', 'run'), py('main')], truncated: false, unknownFrames: 0 }, [], HIDE);
  assert.deepEqual(names(merged.frames), ['main', 'run', 'compress_loop', 'deflate']);
  assert.equal(merged.nativeComplete, false);
});

test('an unmapped address ends the trusted frames', () => {
  const native = [nat('leaf'), nat('junk', 'code', true, false), nat('start_thread', 'root')];
  assert.deepEqual(trustedNativeFrames(native).map((f) => f.name), ['leaf']);
});

test('a leaf in the eval loop shows only the Python frames', () => {
  const merged = mergeStacks([nat('_PyEval_EvalFrameDefault', 'eval', false)], { groups: [py('spin', 'main')], truncated: false, unknownFrames: 0 }, [], HIDE);
  assert.deepEqual(names(merged.frames), ['main', 'spin']);
});

test('truncated Python stacks are marked at their root', () => {
  const merged = mergeStacks([nat('_PyEval_EvalFrameDefault', 'eval', false)], { groups: [py('a', 'b')], truncated: true, unknownFrames: 0 }, [], HIDE);
  assert.deepEqual(names(merged.frames), [TRUNCATED_FRAME, 'b', 'a']);
});

test('samples without Python frames keep native and kernel frames', () => {
  const merged = mergeStacks([nat('read', 'code', false)], null, ['vfs_read'], HIDE);
  assert.deepEqual(names(merged.frames), ['read', 'vfs_read']);
});

test('a Python sample whose Python frames could not be read shows the eval loop in their place; plumbing stays hidden; without a Python walk it is hidden', () => {
  const native = [nat('clear_page'), nat('os_fork'), nat('_PyEval_EvalFrameDefault', 'eval'), nat('Py_RunMain', 'plumbing'), nat('__libc_start_call_main', 'root')];
  assert.deepEqual(names(mergeStacks(native, null, [], { ...HIDE, pythonLookedFor: true }).frames), ['__libc_start_call_main', '_PyEval_EvalFrameDefault', 'os_fork', 'clear_page']);
  assert.deepEqual(names(mergeStacks(native, { groups: [], truncated: false, unknownFrames: 0 }, [], { ...HIDE, pythonLookedFor: true }).frames), ['__libc_start_call_main', '_PyEval_EvalFrameDefault', 'os_fork', 'clear_page']);
  // --native-only, or a target without Python: interpreter frames are plumbing as before.
  assert.deepEqual(names(mergeStacks(native, null, [], HIDE).frames), ['__libc_start_call_main', 'os_fork', 'clear_page']);
});

test('more eval frames than groups on a complete stack is reported, not invented: the sure parts under a marked root', () => {
  const native = [nat('memcpy'), nat('_PyEval_EvalFrameDefault', 'eval'), nat('list_sort'), nat('_PyEval_EvalFrameDefault', 'eval'), nat('_start', 'root')];
  const merged = mergeStacks(native, { groups: [py('f')], truncated: false, unknownFrames: 0 }, ['do_page_fault'], HIDE);
  assert.deepEqual(names(merged.frames), [MISMATCH_FRAME, 'f', 'memcpy', 'do_page_fault']);
  assert.equal(merged.frames[0]!.kind, 'marker');
  assert.equal(merged.mismatched, true);
});

test('more groups than eval frames on a complete stack: no native frame is placed above <module>', () => {
  const native = [nat('epoll_wait'), nat('_PyEval_EvalFrameDefault', 'eval'), nat('Py_RunMain', 'plumbing'), nat('__libc_start_call_main', 'root')];
  const merged = mergeStacks(native, { groups: [py('select', 'run_once'), py('<module>')], truncated: false, unknownFrames: 0 }, [], HIDE);
  assert.deepEqual(names(merged.frames), [MISMATCH_FRAME, '<module>', 'run_once', 'select', 'epoll_wait']);
  assert.equal(merged.mismatched, true);
});

test('a frame-pointer chain that ends by itself is complete, even without a known root name', () => {
  const native = [nat('leaf'), nat('_PyEval_EvalFrameDefault', 'eval'), nat('[libc.so.6+0x94db8]', 'code', false)];
  const python: PythonStack = { groups: [py('f')], truncated: false, unknownFrames: 0 };
  assert.equal(mergeStacks(native, python, [], HIDE).nativeComplete, true);
  // Cut at the capture depth: more frames may have followed.
  assert.equal(mergeStacks(native, python, [], { ...HIDE, maxNativeDepth: 3 }).nativeComplete, false);
  // A leaf alone, even with nothing after it, proves nothing.
  assert.equal(mergeStacks([nat('read', 'code', false)], null, [], HIDE).nativeComplete, false);
});

test('a leaf caught before its frame pointer is set up trusts no caller (the unwind would skip one)', () => {
  const leaf = { ...nat('PyStackRef_CLOSE'), frameReady: false };
  const native = [leaf, nat('_PyEval_EvalFrame'), nat('_PyEval_EvalFrameDefault', 'eval'), nat('start_thread', 'root')];
  assert.deepEqual(trustedNativeFrames(native).map((f) => f.name), ['PyStackRef_CLOSE']);
  const merged = mergeStacks(native, { groups: [py('inner'), py('outer')], truncated: false, unknownFrames: 0 }, [], HIDE);
  assert.deepEqual(names(merged.frames), ['outer', 'inner', 'PyStackRef_CLOSE']);
  assert.equal(merged.mismatched, false);
});

test("a leaf without its frame pointer whose caller was read from its stack slot trusts the walk above it", () => {
  const leaf = { ...nat('_PyCompactLong_Add'), frameReady: false };
  // The caller read from the stack slot, then the frame-pointer walk from the caller's frame.
  const native = [leaf, nat('_PyEval_EvalFrameDefault', 'eval'), nat('_PyEval_EvalFrameDefault', 'eval'), nat('start_thread', 'root')];
  assert.deepEqual(trustedNativeFrames(native, 'fp', true).map((f) => f.name), ['_PyCompactLong_Add', '_PyEval_EvalFrameDefault', '_PyEval_EvalFrameDefault', 'start_thread']);
  const merged = mergeStacks(native, { groups: [py('inner'), py('outer')], truncated: false, unknownFrames: 0 }, [], HIDE, undefined, true);
  assert.deepEqual(names(merged.frames), ['start_thread', 'outer', 'inner', '_PyCompactLong_Add']);
  assert.equal(merged.nativeComplete, true);
  assert.equal(merged.mismatched, false);
});

test('a leaf with its caller read from its stack slot, and no walk above that caller, is not a complete stack', () => {
  // A build without frame pointers: the walk from %rbp gave nothing; the caller came from the stack slot.
  const leaf = { ...nat('_PyObject_Free'), frameReady: false };
  const native = [leaf, nat('_PyEval_EvalFrameDefault', 'eval', false)];
  const merged = mergeStacks(native, { groups: [py('inner'), py('middle', 'outer')], truncated: false, unknownFrames: 0 }, [], HIDE, undefined, true);
  assert.deepEqual(names(merged.frames), ['outer', 'middle', 'inner', '_PyObject_Free']);
  assert.equal(merged.nativeComplete, false);
  assert.equal(merged.mismatched, false);
});

test('a CFI unwind is trusted whole: Python groups go between the C frames around them', () => {
  // No frame pointers anywhere: a frame-pointer unwind would trust the leaf only.
  const native = [
    nat('XML_Parse', 'code', false),
    nat('pyexpat_xmlparser_Parse', 'code', false),
    nat('_PyEval_EvalFrameDefault', 'eval', false),
    nat('start_thread', 'root', false),
  ];
  const python: PythonStack = { groups: [py('parse', 'main')], truncated: false, unknownFrames: 0 };
  assert.deepEqual(trustedNativeFrames(native, 'fp').length, 1);
  const merged = mergeStacks(native, python, ['do_syscall_64'], { ...HIDE, nativeUnwind: 'dwarf' });
  assert.deepEqual(names(merged.frames), ['start_thread', 'main', 'parse', 'pyexpat_xmlparser_Parse', 'XML_Parse', 'do_syscall_64']);
  assert.equal(merged.nativeComplete, true);
  assert.equal(merged.mismatched, false);
});

test('a CFI unwind through an eval loop without a name puts the Python frames between the native frames below and above the interpreter', () => {
  // The interpreter's own frames are unnamed (plumbing): none can take the Python groups.
  const native = [
    nat('PyObject_Free', 'code', false),
    nat('[python3.13+0x48b65]', 'plumbing', false),
    nat('[python3.13+0x1d2e50]', 'plumbing', false),
    nat('[libc.so.6+0x94db8]', 'code', false),
    nat('[libc.so.6+0x112f98]', 'code', false),
  ];
  const python: PythonStack = { groups: [py('sort_key'), py('sort_driver', 'run')], truncated: false, unknownFrames: 0 };
  const merged = mergeStacks(native, python, ['do_syscall_64'], { ...HIDE, nativeUnwind: 'dwarf' }, true);
  assert.deepEqual(names(merged.frames), ['[libc.so.6+0x112f98]', '[libc.so.6+0x94db8]', 'run', 'sort_driver', 'sort_key', 'PyObject_Free', 'do_syscall_64']);
  assert.equal(merged.evalUnknown, true);
  assert.equal(merged.nativeComplete, true);
  assert.equal(merged.mismatched, false);
  // An unwind that stopped early says nothing of what lies below.
  const cut = mergeStacks(native.slice(0, 3), python, [], { ...HIDE, nativeUnwind: 'dwarf' }, false);
  assert.deepEqual(names(cut.frames), ['run', 'sort_driver', 'sort_key', 'PyObject_Free']);
  assert.equal(cut.nativeComplete, false);
});

test('a CFI unwind that ended at an outermost frame is complete even when the root has no name', () => {
  const native = [nat('leaf', 'code', false), nat('_PyEval_EvalFrameDefault', 'eval', false), nat('[libc.so.6+0x112f98]', 'code', false)];
  const python: PythonStack = { groups: [py('f')], truncated: false, unknownFrames: 0 };
  assert.equal(mergeStacks(native, python, [], { ...HIDE, nativeUnwind: 'dwarf' }, true).nativeComplete, true);
  assert.equal(mergeStacks(native, python, [], { ...HIDE, nativeUnwind: 'dwarf' }, false).nativeComplete, false);
});

test('a CFI unwind that stopped before the interpreter (code without CFI) is said so, not blamed on the eval loop: its leaf stays under the Python caller', () => {
  // OpenBLAS's dgemm kernels are assembly without call frame information: the unwind ends at the leaf.
  const leaf: NativeFrame = { ...nat('dgemm_kernel_HASWELL', 'code', false), module: '/usr/lib/x86_64-linux-gnu/libopenblas.so.0' };
  const python: PythonStack = { groups: [py('matmul', '<module>')], truncated: false, unknownFrames: 0 };
  const merged = mergeStacks([leaf], python, [], { ...HIDE, nativeUnwind: 'dwarf' }, false);
  assert.deepEqual(names(merged.frames), ['<module>', 'matmul', 'dgemm_kernel_HASWELL']);
  assert.equal(merged.unwindStoppedAt, 'dgemm_kernel_HASWELL in libopenblas.so.0');
  assert.equal(merged.evalUnknown, false);
  // Unnamed, it is named by its offset alone.
  const unnamed: NativeFrame = { ...nat('[libcrypto.so.3+0x1a2b]', 'code', false), module: '/usr/lib/libcrypto.so.3' };
  assert.equal(mergeStacks([unnamed], python, [], { ...HIDE, nativeUnwind: 'dwarf' }, false).unwindStoppedAt, '[libcrypto.so.3+0x1a2b]');
  // Through unnamed interpreter frames to the thread's start: the eval loop's name is the question.
  const whole = mergeStacks([leaf, nat('[python3.13+0x48b65]', 'plumbing', false), nat('[libc.so.6+0x112f98]', 'code', false)], python, [], { ...HIDE, nativeUnwind: 'dwarf' }, true);
  assert.equal(whole.unwindStoppedAt, null);
  assert.equal(whole.evalUnknown, true);
  // A thread caught in its first instructions (clone3, before its CFI marks the outermost frame) is neither.
  const starting = mergeStacks([nat('__clone3', 'root', false)], python, [], { ...HIDE, nativeUnwind: 'dwarf' }, false);
  assert.equal(starting.unwindStoppedAt, null);
  assert.equal(starting.evalUnknown, false);
});

test("a greenlet's stack starts at its bootstrap: the frames below it (another greenlet's) are left out, and the stack is whole", () => {
  const native = [
    nat('object_dealloc'),
    nat('_PyEval_EvalFrameDefault', 'eval'),
    nat('_PyEval_Vector', 'plumbing'),
    nat('greenlet::UserGreenlet::inner_bootstrap(greenlet::refs::OwnedGreenlet&)', 'greenlet'),
    nat('greenlet::UserGreenlet::g_initialstub(void*)'),
    nat('greenlet::UserGreenlet::g_switch()'),
    nat('_PyEval_EvalFrameDefault', 'eval'),
    nat('__libc_start_call_main', 'root'),
  ];
  const python: PythonStack = { groups: [py('crunch', 'worker')], truncated: false, unknownFrames: 0 };
  const merged = mergeStacks(native, python, [], { ...HIDE, nativeUnwind: 'dwarf' }, false);
  assert.deepEqual(names(merged.frames), ['[greenlet]', 'worker', 'crunch', 'object_dealloc']);
  assert.equal(merged.frames[0]!.kind, 'marker');
  assert.equal(merged.nativeComplete, true);
  assert.equal(merged.mismatched, false);
});

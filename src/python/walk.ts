/**
 * The Python walk in TypeScript: what the samplers' BPF walkers
 * (bpf/python-sampler.bt, DEFINE_PYTHON_WALK in bpf/dwarf-sampler.bpf.c) do
 * at sample time, done from user space through a MemoryReader with the same
 * layout. The layout check, thread naming and the tests that hold the BPF
 * walkers to it walk with this one.
 */
import type { RawPythonChain, RawPythonFrame } from './captured.js';
import { readPointer, type MemoryReader } from '../target/memory.js';
import type { PythonLayout } from './layout.js';

/** FNV-1a over 64-bit words, as the BPF walkers hash a chain. */
export const CHAIN_HASH_SEED = 14695981039346656037n;
const FNV_PRIME = 1099511628211n;
const mix = (hash: bigint, word: bigint): bigint => BigInt.asUintN(64, (hash ^ word) * FNV_PRIME);

/** The main interpreter's state (the head of _PyRuntime's list), 0n before the interpreter has one. */
export function interpreterState(memory: MemoryReader, layout: PythonLayout, runtimeAddress: bigint): bigint {
  return readPointer(memory, runtimeAddress + BigInt(layout.runtime.interpretersHead));
}

/** The interpreter's first thread state (the list's head), 0n when there is none yet. */
export function threadsHead(memory: MemoryReader, layout: PythonLayout, runtimeAddress: bigint): bigint {
  const interp = interpreterState(memory, layout, runtimeAddress);
  return interp === 0n ? 0n : readPointer(memory, interp + BigInt(layout.runtime.threadsHead));
}

/** The thread states, newest first as the interpreter lists them, at most max. */
export function threadStates(memory: MemoryReader, layout: PythonLayout, runtimeAddress: bigint, max: number): bigint[] {
  const states: bigint[] = [];
  for (let ts = threadsHead(memory, layout, runtimeAddress); ts !== 0n && states.length < max; ts = readPointer(memory, ts + BigInt(layout.thread.next))) states.push(ts);
  return states;
}

/** What a thread state says its thread is: the kernel's tid, or the thread's fsbase (layout.thread.threadKeyIsFsbase). */
export function threadKey(memory: MemoryReader, layout: PythonLayout, ts: bigint): bigint {
  return readPointer(memory, ts + BigInt(layout.thread.threadKey));
}

/**
 * The thread state carrying key, 0n when none does: the last match, the
 * oldest, as the BPF walkers take it (before 3.12 a new thread's state carries
 * its creator's key until the thread starts, and new states go to the head).
 */
export function findThreadState(memory: MemoryReader, layout: PythonLayout, runtimeAddress: bigint, key: bigint, max: number): bigint {
  let found = 0n;
  for (const ts of threadStates(memory, layout, runtimeAddress, max)) if (threadKey(memory, layout, ts) === key) found = ts;
  return found;
}

/** The thread's innermost frame (through its cframe before 3.12), 0n when it runs none. */
export function currentFrame(memory: MemoryReader, layout: PythonLayout, ts: bigint): bigint {
  const frame = readPointer(memory, ts + BigInt(layout.thread.frame));
  return layout.thread.cframeCurrentFrame !== null && frame !== 0n ? readPointer(memory, frame + BigInt(layout.thread.cframeCurrentFrame)) : frame;
}

/** The bytes of a frame that hold the words the walkers capture. */
export function frameReadSize(layout: PythonLayout): number {
  return Math.max(layout.frame.code, layout.frame.instr, layout.frame.flags) + 8;
}

/** A frame's words from its bytes (read from `at`); the code object's first line from firstLine. */
export function frameFromBytes(bytes: Buffer | null, at: number, layout: PythonLayout, firstLine: (code: bigint) => number): RawPythonFrame {
  const word = (offset: number): bigint => (bytes && at + offset + 8 <= bytes.length ? bytes.readBigUInt64LE(at + offset) : 0n);
  const code = word(layout.frame.code) & layout.frame.codeMask;
  return { code, instr: word(layout.frame.instr) & layout.frame.instrMask, flags: word(layout.frame.flags), firstLineNo: code === 0n ? 0 : firstLine(code) };
}

/** The first line a code object records (0 when it cannot be read). */
export function readFirstLine(memory: MemoryReader, layout: PythonLayout, code: bigint): number {
  return memory.read(code + BigInt(layout.code.firstLineNo), 4)?.readUInt32LE(0) ?? 0;
}

/**
 * One frame's words, as the walkers capture them (each word on its own: a
 * memory image holds only the words the walkers read); the code object's
 * first line is read at the same moment.
 */
export function readFrame(memory: MemoryReader, layout: PythonLayout, frame: bigint): RawPythonFrame {
  const code = readPointer(memory, frame + BigInt(layout.frame.code)) & layout.frame.codeMask;
  return {
    code,
    instr: readPointer(memory, frame + BigInt(layout.frame.instr)) & layout.frame.instrMask,
    flags: readPointer(memory, frame + BigInt(layout.frame.flags)),
    firstLineNo: code === 0n ? 0 : readFirstLine(memory, layout, code),
  };
}

/** The frames of thread state ts with their addresses, innermost first, at most maxDepth (a dump reads their variables). */
export function walkFrames(memory: MemoryReader, layout: PythonLayout, ts: bigint, maxDepth: number): { readonly address: bigint; readonly frame: RawPythonFrame }[] {
  const frames: { address: bigint; frame: RawPythonFrame }[] = [];
  for (let f = currentFrame(memory, layout, ts); f !== 0n && frames.length < maxDepth; f = readPointer(memory, f + BigInt(layout.frame.previous))) {
    frames.push({ address: f, frame: readFrame(memory, layout, f) });
  }
  return frames;
}

/**
 * The Python chain of thread state ts, innermost frame first, at most
 * maxDepth frames (truncated when more follow), hashed as the walkers hash
 * it: the code pointer where the instruction pointer does not name the code
 * (before 3.11), then the instruction. null when the thread runs no frame.
 */
export function walkChain(memory: MemoryReader, layout: PythonLayout, ts: bigint, maxDepth: number, seed = CHAIN_HASH_SEED): RawPythonChain | null {
  const hashCode = layout.frame.instrKind !== 'pointer';
  const frames: RawPythonFrame[] = [];
  let hash = seed;
  let f = currentFrame(memory, layout, ts);
  for (; f !== 0n && frames.length < maxDepth; f = readPointer(memory, f + BigInt(layout.frame.previous))) {
    const frame = readFrame(memory, layout, f);
    if (hashCode) hash = mix(hash, frame.code);
    hash = mix(hash, frame.instr);
    frames.push(frame);
  }
  return frames.length === 0 ? null : { hash, depth: frames.length, truncated: f !== 0n, frames };
}

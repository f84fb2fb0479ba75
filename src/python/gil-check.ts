/**
 * Whether --gil can work on this interpreter: the layout must say where the
 * GIL's state is, and what is read there must look like a GIL, as the walk's
 * offsets are checked against the live process before sampling (validate.ts).
 * A free-threaded build has no GIL: --gil is refused on it in one line.
 */
import { MixprofError } from '../errors.js';
import { readPointer, type MemoryReader } from '../target/memory.js';
import type { GilLayout, PythonLayout } from './layout.js';
import { versionString } from './layout.js';
import { interpreterState } from './walk.js';

/** Where the GIL's state is now: at a fixed place in _PyRuntime, or where the interpreter points (null when it cannot be read). */
function gilAddress(memory: MemoryReader, layout: PythonLayout, gil: GilLayout, runtimeAddress: bigint): bigint | null {
  if (gil.location === 'runtime') return runtimeAddress + BigInt(gil.offset);
  const interp = interpreterState(memory, layout, runtimeAddress);
  const address = interp ? readPointer(memory, interp + BigInt(gil.offset)) : 0n;
  return address || null;
}

/** What is wrong with the GIL's state as read with this layout, or null when it looks right. */
export function gilProblem(memory: MemoryReader, layout: PythonLayout, runtimeAddress: bigint): string | null {
  if (!layout.gil) return 'the offsets do not say where the GIL is';
  const address = gilAddress(memory, layout, layout.gil, runtimeAddress);
  if (address === null) return "the interpreter's pointer to its GIL cannot be read";
  const locked = memory.read(address + BigInt(layout.gil.locked), 4)?.readInt32LE(0);
  const holder = memory.read(address + BigInt(layout.gil.lastHolder), 8)?.readBigUInt64LE(0);
  if (locked === undefined || holder === undefined) return `the GIL's state at 0x${address.toString(16)} cannot be read`;
  // locked is a flag; last_holder is a PyThreadState pointer, or 0 before any thread took the GIL.
  if (locked !== 0 && locked !== 1) return `the GIL's locked flag reads ${locked}`;
  if (holder % 8n !== 0n || (locked === 1 && holder === 0n)) return `the GIL's last holder reads 0x${holder.toString(16)}`;
  return null;
}

/** Refuses --gil with one line when the GIL cannot be read on this interpreter. */
export function requireGil(memory: MemoryReader, layout: PythonLayout, runtimeAddress: bigint): GilLayout {
  if (layout.flavour === 'free-threaded') {
    throw new MixprofError(
      'UNSUPPORTED_PYTHON',
      `--gil: Python ${versionString(layout.version)} in this process is a free-threaded build and has no GIL to report on`,
      'profile without --gil: its threads run Python in parallel (--mode wall also shows the ones waiting)',
    );
  }
  const problem = gilProblem(memory, layout, runtimeAddress);
  if (problem === null && layout.gil) return layout.gil;
  throw new MixprofError(
    'UNSUPPORTED_PYTHON',
    `--gil cannot tell who holds the GIL of Python ${versionString(layout.version)} with offsets from ${layout.source}: ${problem}`,
    'take the offsets from another source with --offsets-from, pass the interpreter\'s debug file with -d, or profile without --gil',
  );
}

/**
 * Renders a bpftrace program from a template in the top-level bpf/ folder.
 * Only integers are substituted (offsets, addresses, the PID, the rate), each
 * checked here, so nothing a user typed can become program text.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root.js';
import type { DwarfPythonConfig } from '../native.js';
import type { PythonLayout } from '../python/layout.js';

export type Constants = Record<string, number | bigint | boolean>;

const PLACEHOLDER = /\{\{([A-Z0-9_]+)\}\}/g;
const MAX_U64 = (1n << 64n) - 1n;

export function renderTemplate(template: string, constants: Constants): string {
  const used = new Set<string>();
  const text = template.replace(PLACEHOLDER, (_, name: string) => {
    if (!(name in constants)) throw new Error(`bpf template: no value for {{${name}}}`);
    used.add(name);
    return integerText(name, constants[name]!);
  });
  for (const name of Object.keys(constants)) {
    if (!used.has(name)) throw new Error(`bpf template: {{${name}}} is not used`);
  }
  return text;
}

function integerText(name: string, value: number | bigint | boolean): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  const big = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : null;
  if (big === null || big < 0n || big > MAX_U64) throw new Error(`bpf template: {{${name}}} must be an integer in [0, 2^64), got ${String(value)}`);
  return big.toString();
}

export function loadTemplate(name: string): string {
  return readFileSync(path.join(packageRoot(), 'bpf', name), 'utf8');
}

export interface SamplerSettings {
  readonly pid: number;
  readonly hz: number;
  /** Python frames walked per sample; deeper stacks are marked truncated. */
  readonly maxDepth: number;
  /** Threads searched for the sampled thread's state before giving up. */
  readonly maxThreads: number;
  /** Native user frames kept per sample. */
  readonly userDepth: number;
  /** Read whether the sampled thread holds the GIL (--gil; needs a layout that locates it). */
  readonly gil: boolean;
}

/** Kernel stacks deeper than this are rare; each frame costs 1 MiB of stack map. */
export const KERNEL_STACK_DEPTH = 64;
/** perf's default: a frame-pointer unwind of a deep native stack. */
export const FULL_USER_STACK_DEPTH = 127;
/**
 * Without frame pointers in the interpreter, the unwind cannot pass its first
 * interpreter frame: a few library frames above the leaf are all it can give.
 */
export const SHORT_USER_STACK_DEPTH = 32;
/** Chains announced before the in-kernel memory of them is reset (half the map size). */
export const SEEN_CHAINS_LIMIT = 32768;
export const MAP_KEYS_MAX = 65536;

export const PYTHON_TEMPLATE = 'python-sampler.bt';
export const NATIVE_TEMPLATE = 'native-sampler.bt';

/**
 * The Python walk's constants, from the layout: the one place that maps it,
 * for both walks (the bpftrace template and bpf/dwarf-sampler.bpf.c).
 */
export function walkConstants(layout: PythonLayout, runtimeAddress: bigint, settings: SamplerSettings): DwarfPythonConfig {
  const { thread, frame } = layout;
  const big = (n: number | bigint): bigint => BigInt(n);
  const gil = settings.gil ? layout.gil : null;
  // The session refuses --gil before this when the layout cannot locate the GIL.
  if (settings.gil && !gil) throw new Error('walkConstants: --gil with a layout that does not locate the GIL');
  return {
    maxDepth: settings.maxDepth,
    maxThreads: settings.maxThreads,
    threadKeyIsFsbase: thread.threadKeyIsFsbase,
    frameViaCframe: thread.cframeCurrentFrame !== null,
    // Before 3.11 the instruction is an index: the code pointer must be hashed too.
    hashCode: frame.instrKind !== 'pointer',
    runtimeAddr: runtimeAddress,
    interpretersHead: big(layout.runtime.interpretersHead),
    threadsHead: big(layout.runtime.threadsHead),
    threadNext: big(thread.next),
    threadKey: big(thread.threadKey),
    threadFrame: big(thread.frame),
    cframeCurrentFrame: big(thread.cframeCurrentFrame ?? 0),
    frameCode: big(frame.code),
    codeMask: big(frame.codeMask),
    frameInstr: big(frame.instr),
    instrMask: big(frame.instrMask),
    framePrevious: big(frame.previous),
    frameFlags: big(frame.flags),
    codeFirstLineNo: big(layout.code.firstLineNo),
    gil: gil !== null,
    gilViaInterpreter: gil?.location === 'interpreter-pointer',
    gilOffset: big(gil?.offset ?? 0),
    gilLocked: big(gil?.locked ?? 0),
    gilLastHolder: big(gil?.lastHolder ?? 0),
  };
}

export function pythonProgram(layout: PythonLayout, runtimeAddress: bigint, settings: SamplerSettings): string {
  const c = walkConstants(layout, runtimeAddress, settings);
  return renderTemplate(loadTemplate(PYTHON_TEMPLATE), {
    PID: settings.pid,
    HZ: settings.hz,
    KERNEL_DEPTH: KERNEL_STACK_DEPTH,
    USER_DEPTH: settings.userDepth,
    SEEN_LIMIT: SEEN_CHAINS_LIMIT,
    MAX_DEPTH: c.maxDepth,
    MAX_THREADS: c.maxThreads,
    RUNTIME_ADDR: c.runtimeAddr,
    RT_INTERP_HEAD: c.interpretersHead,
    IS_THREADS_HEAD: c.threadsHead,
    TS_NEXT: c.threadNext,
    TS_THREAD_KEY: c.threadKey,
    THREAD_KEY_IS_FSBASE: c.threadKeyIsFsbase,
    TS_FRAME: c.threadFrame,
    FRAME_VIA_CFRAME: c.frameViaCframe,
    CFRAME_CURRENT: c.cframeCurrentFrame,
    FR_CODE: c.frameCode,
    HASH_CODE: c.hashCode,
    CODE_MASK: c.codeMask,
    FR_INSTR: c.frameInstr,
    INSTR_MASK: c.instrMask,
    FR_PREVIOUS: c.framePrevious,
    FR_FLAGS: c.frameFlags,
    CO_FIRSTLINENO: c.codeFirstLineNo,
    GIL: c.gil,
    GIL_VIA_INTERP: c.gilViaInterpreter,
    GIL_OFFSET: c.gilOffset,
    GIL_LOCKED: c.gilLocked,
    GIL_LAST_HOLDER: c.gilLastHolder,
  });
}

export function nativeProgram(settings: SamplerSettings): string {
  return renderTemplate(loadTemplate(NATIVE_TEMPLATE), { PID: settings.pid, HZ: settings.hz, KERNEL_DEPTH: KERNEL_STACK_DEPTH, USER_DEPTH: settings.userDepth });
}

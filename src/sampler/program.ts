/**
 * Renders a bpftrace program from a template in the top-level bpf/ folder.
 * Only integers are substituted (offsets, addresses, the PID, the rate), each
 * checked here, the stack functions' output mode, one of three bpftrace
 * keywords, and a probe's file, a path of plain characters (a container's
 * interpreter, which only a program can name); sections of the template are
 * kept or dropped by true or false values: nothing a user typed can become
 * program text.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root.js';
import { walkTemplateValues, type WalkConstants } from './walk-fields.js';
import type { PythonLayout } from '../python/layout.js';
import type { StackFormat } from './bpftrace-records.js';

/** ustack's and kstack's output modes: raw from bpftrace 0.18; before, perf (user) and bpftrace (kernel) text. */
export type StackMode = 'perf' | 'bpftrace' | 'raw';
const STACK_MODES: readonly string[] = ['perf', 'bpftrace', 'raw'] satisfies StackMode[];

/**
 * A probe's file, for attach points that need one: only absolute paths of
 * plain characters (letters, digits, '.', '_', '+', '-', '/'), no '..'
 * step, which bpftrace's grammar reads as one path; anything else is refused.
 */
export interface ProbePath {
  readonly path: string;
}

export type Constants = Record<string, number | bigint | boolean | { readonly stackMode: StackMode } | ProbePath>;

const PLAIN_PATH = /^(?:\/[A-Za-z0-9_.+-]+)+$/;

/** Whether a path can be written into a program as a probe's file. */
export function isPlainPath(path: string): boolean {
  return PLAIN_PATH.test(path) && !path.split('/').includes('..');
}

const PLACEHOLDER = /\{\{([A-Z0-9_]+)\}\}/g;
const MAX_U64 = (1n << 64n) - 1n;

/** `{{#NAME}}...{{/NAME}}`: kept when NAME is true, dropped when false; sections may nest. */
const SECTION = /\{\{#([A-Z0-9_]+)\}\}\n?([\s\S]*?)\{\{\/\1\}\}\n?/g;

export function renderTemplate(template: string, constants: Constants): string {
  const used = new Set<string>();
  const keep = (text: string): string =>
    text.replace(SECTION, (_, name: string, body: string) => {
      const value = constants[name];
      if (typeof value !== 'boolean') throw new Error(`bpf template: section {{#${name}}} needs a true or false value`);
      used.add(name);
      // Sections inside a kept one are decided in turn.
      return value ? keep(body) : '';
    });
  const kept = keep(template);
  const text = kept.replace(PLACEHOLDER, (_, name: string) => {
    if (!(name in constants)) throw new Error(`bpf template: no value for {{${name}}}`);
    used.add(name);
    return integerText(name, constants[name]!);
  });
  for (const name of Object.keys(constants)) {
    if (!used.has(name)) throw new Error(`bpf template: {{${name}}} is not used`);
  }
  return text;
}

function integerText(name: string, value: Constants[string]): string {
  if (typeof value === 'object' && 'path' in value) {
    if (!isPlainPath(value.path)) throw new Error(`bpf template: {{${name}}} must be a plain absolute path, got ${JSON.stringify(value.path)}`);
    return value.path;
  }
  if (typeof value === 'object') {
    if (!STACK_MODES.includes(value.stackMode)) throw new Error(`bpf template: {{${name}}} must be a stack mode, got ${String(value.stackMode)}`);
    return value.stackMode;
  }
  if (typeof value === 'boolean') return value ? '1' : '0';
  const big = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : null;
  if (big === null || big < 0n || big > MAX_U64) throw new Error(`bpf template: {{${name}}} must be an integer in [0, 2^64), got ${String(value)}`);
  return big.toString();
}

/** A line `{{>NAME.part.bt}}` stands for that file of bpf/: a part two programs share. */
const PART = /^[ \t]*\{\{>([a-z0-9-]+\.part\.bt)\}\}[ \t]*$/gm;

export function loadTemplate(name: string): string {
  const read = (file: string): string => readFileSync(path.join(packageRoot(), 'bpf', file), 'utf8');
  return read(name).replace(PART, (_, part: string) => read(part).trimEnd());
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
export function walkConstants(layout: PythonLayout, runtimeAddress: bigint, settings: SamplerSettings): WalkConstants {
  const { thread, frame } = layout;
  const big = (n: number | bigint): bigint => BigInt(n);
  const gil = settings.gil ? layout.gil : null;
  // The session refuses --gil before this when the layout cannot locate the GIL.
  if (settings.gil && !gil) throw new Error('walkConstants: --gil with a layout that does not locate the GIL');
  return {
    max_depth: settings.maxDepth,
    max_threads: settings.maxThreads,
    thread_key_is_fsbase: thread.threadKeyIsFsbase,
    frame_via_cframe: thread.cframeCurrentFrame !== null,
    hash_code: frame.instrKind !== 'pointer',
    gil: gil !== null,
    gil_via_interp: gil?.location === 'interpreter-pointer',
    runtime_addr: runtimeAddress,
    rt_interp_head: big(layout.runtime.interpretersHead),
    is_threads_head: big(layout.runtime.threadsHead),
    ts_prev: big(thread.prev),
    ts_next: big(thread.next),
    ts_thread_key: big(thread.threadKey),
    ts_frame: big(thread.frame),
    cframe_current: big(thread.cframeCurrentFrame ?? 0),
    fr_code: big(frame.code),
    code_mask: big(frame.codeMask),
    fr_instr: big(frame.instr),
    instr_mask: big(frame.instrMask),
    fr_previous: big(frame.previous),
    fr_flags: big(frame.flags),
    co_firstlineno: big(layout.code.firstLineNo),
    gil_offset: big(gil?.offset ?? 0),
    gil_locked: big(gil?.locked ?? 0),
    gil_last_holder: big(gil?.lastHolder ?? 0),
  };
}

/** The stack functions' modes for how this bpftrace prints stacks (and whether it names kernel frames itself). */
function stackModes(stacks: StackFormat): Constants {
  return stacks === 'raw'
    ? { USER_STACK_MODE: { stackMode: 'raw' }, KERNEL_STACK_MODE: { stackMode: 'raw' }, KERNEL_TEXT_STACKS: 0 }
    : { USER_STACK_MODE: { stackMode: 'perf' }, KERNEL_STACK_MODE: { stackMode: 'bpftrace' }, KERNEL_TEXT_STACKS: 1 };
}

export function pythonProgram(layout: PythonLayout, runtimeAddress: bigint, settings: SamplerSettings, stacks: StackFormat = 'text'): string {
  const c = walkConstants(layout, runtimeAddress, settings);
  return renderTemplate(loadTemplate(PYTHON_TEMPLATE), {
    PID: settings.pid,
    HZ: settings.hz,
    KERNEL_DEPTH: KERNEL_STACK_DEPTH,
    USER_DEPTH: settings.userDepth,
    SEEN_LIMIT: SEEN_CHAINS_LIMIT,
    ...stackModes(stacks),
    ...walkTemplateValues(c),
  });
}

export function nativeProgram(settings: SamplerSettings, stacks: StackFormat = 'text'): string {
  return renderTemplate(loadTemplate(NATIVE_TEMPLATE), { PID: settings.pid, HZ: settings.hz, KERNEL_DEPTH: KERNEL_STACK_DEPTH, USER_DEPTH: settings.userDepth, ...stackModes(stacks) });
}

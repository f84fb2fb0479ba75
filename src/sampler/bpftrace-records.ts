/**
 * Parses bpftrace's `-f json` stream (one JSON object per line) into the
 * sampler's records (sampler.ts): thread and chain announcements (printf) and
 * aggregated samples (the @samples map). The only place that knows
 * bpftrace's text.
 */
import { gilStateFromCode } from './gil-codes.js';
import type { RawPythonChain, RawPythonFrame } from '../python/captured.js';
import type { KernelFrame, RawSample, SamplerEvent } from './sampler.js';

/**
 * One line's record: a sampler record, or part of a Python chain (its head,
 * then one line per frame), which BpftraceStream puts together.
 */
export type BpftraceRecord =
  | Exclude<SamplerEvent, { type: 'chain' }>
  | { type: 'chain-head'; hash: bigint; depth: number; truncated: boolean }
  | { type: 'chain-frame'; hash: bigint; index: number; frame: RawPythonFrame };

const SAMPLE_MAP = '@samples';

/**
 * How the program asked bpftrace to print stacks: symbolized text
 * (ustack(perf), kstack; bpftrace 0.17, which has nothing else) or raw
 * addresses (0.18 and later, whose text forms changed between releases).
 */
export type StackFormat = 'text' | 'raw';

/**
 * Turns a stack as bpftrace printed it into frames: user addresses; kernel
 * addresses, or function names from bpftrace 0.17's text. The runner keeps
 * the answers (the same stacks come back every second: see bpftrace-runner.ts).
 */
export interface StackTexts {
  user(text: string): readonly bigint[];
  kernel(text: string): readonly KernelFrame[];
}

/** Each text parsed as it comes. */
export function plainStackTexts(stacks: StackFormat): StackTexts {
  return stacks === 'raw' ? { user: parseRawStack, kernel: parseRawStack } : { user: parseUserStack, kernel: parseKernelStack };
}

/** One line of `bpftrace -f json`: its record's type and data; 'text' for a line that is not JSON; null for a blank line or JSON that is no record. */
export function bpftraceJsonLine(line: string): { readonly type?: unknown; readonly data?: unknown } | { readonly text: string } | null {
  const trimmed = line.trim();
  if (trimmed === '') return null;
  let record: unknown;
  try {
    record = JSON.parse(trimmed);
  } catch {
    return { text: trimmed };
  }
  return typeof record === 'object' && record !== null ? (record as { type?: unknown; data?: unknown }) : null;
}

/** Parses one stdout line; returns null for blank lines and records of no interest. */
export function parseBpftraceLine(line: string, stacks: StackFormat = 'text', texts: StackTexts = plainStackTexts(stacks)): BpftraceRecord | null {
  const record = bpftraceJsonLine(line);
  if (record === null) return null;
  if ('text' in record) return { type: 'text', text: record.text };
  const { type, data } = record;
  switch (type) {
    case 'lost_events':
      return { type: 'lost', events: Number((data as { events?: unknown })?.events ?? 0) };
    case 'printf':
      return typeof data === 'string' ? parsePrintf(data) : null;
    case 'map': {
      const maps = data as Record<string, unknown> | null;
      const entries = maps?.[SAMPLE_MAP];
      if (typeof entries !== 'object' || entries === null) return null;
      return parseSampleMap(entries as Record<string, unknown>, stacks, texts);
    }
    default:
      return null;
  }
}

function parsePrintf(text: string): BpftraceRecord | null {
  const line = text.replace(/\n$/, '');
  const fields = line.split(' ');
  switch (fields[0]) {
    case 'X':
      return { type: 'exec' };
    case 'R':
      // Printed by BEGIN, which bpftrace runs once every probe is attached.
      return { type: 'ready' };
    case 'K':
      // BEGIN's call that makes bpftrace read the kernel's symbols.
      return null;
    case 'T':
      // comm may contain spaces: everything after the tid is the name.
      return { type: 'thread', thread: { tid: Number(fields[1]), comm: fields.slice(2).join(' ') } };
    case 'C':
      if (fields.length !== 4) break;
      return { type: 'chain-head', hash: BigInt(fields[1]!), depth: Number(fields[2]), truncated: fields[3] === '1' };
    case 'F':
      if (fields.length !== 7) break;
      return {
        type: 'chain-frame',
        hash: BigInt(fields[1]!),
        index: Number(fields[2]),
        frame: {
          code: BigInt(fields[3]!),
          instr: BigInt(fields[4]!),
          flags: BigInt(fields[5]!),
          firstLineNo: Number(fields[6]),
        },
      };
    default:
      break;
  }
  return { type: 'text', text: line };
}

/** Chains begun and not finished that are kept: past this many (frames lost with their lines) they are let go. */
const PENDING_CHAINS_KEPT = 10_000;

interface PendingChain {
  readonly head: { hash: bigint; depth: number; truncated: boolean };
  readonly frames: (RawPythonFrame | undefined)[];
  received: number;
}

/** bpftrace's stdout, line by line, as the sampler's records: a chain is sent once all its frames are in. */
export class BpftraceStream {
  private readonly pending = new Map<bigint, PendingChain>();

  constructor(
    private readonly stacks: StackFormat,
    private readonly texts: StackTexts = plainStackTexts(stacks),
  ) {}

  line(text: string): SamplerEvent | null {
    const record = parseBpftraceLine(text, this.stacks, this.texts);
    if (record === null) return null;
    if (record.type === 'chain-head') {
      if (this.pending.size >= PENDING_CHAINS_KEPT) this.pending.clear();
      const { hash, depth, truncated } = record;
      if (depth === 0) return { type: 'chain', chain: { hash, depth, truncated, frames: [] } };
      this.pending.set(hash, { head: { hash, depth, truncated }, frames: new Array<RawPythonFrame | undefined>(depth), received: 0 });
      return null;
    }
    if (record.type !== 'chain-frame') return record;
    const chain = this.pending.get(record.hash);
    if (!chain || record.index < 0 || record.index >= chain.head.depth || chain.frames[record.index]) return null;
    chain.frames[record.index] = record.frame;
    if (++chain.received < chain.head.depth) return null;
    this.pending.delete(record.hash);
    const complete: RawPythonChain = { ...chain.head, frames: chain.frames as RawPythonFrame[] };
    return { type: 'chain', chain: complete };
  }
}

/**
 * Map keys come as one string, the parts joined by commas:
 * "tid,hash,gil,<ustack lines>,<kstack lines>,w0,w1,w2" (w: the words at the
 * user stack pointer). Stack texts contain no commas.
 */
export function parseSampleMap(entries: Record<string, unknown>, stacks: StackFormat = 'text', texts: StackTexts = plainStackTexts(stacks)): BpftraceRecord {
  const samples: RawSample[] = [];
  let malformed = 0;
  for (const [key, value] of Object.entries(entries)) {
    const parts = key.split(',');
    const count = Number(value);
    if (parts.length !== 8 || !Number.isInteger(count) || count <= 0 || !parts.slice(5).every((w) => /^-?\d+$/.test(w))) {
      malformed++;
      continue;
    }
    const [tid, hash, gilCode, ustack, kstack] = parts as [string, string, string, string, string];
    const gil = gilStateFromCode(Number(gilCode));
    // Map keys print 64-bit values signed, printf prints them unsigned.
    const words = parts.slice(5).map((w) => BigInt.asUintN(64, BigInt(w)));
    samples.push({
      tid: Number(tid),
      chain: BigInt.asUintN(64, BigInt(hash)),
      ...(gil ? { gil } : {}),
      user: texts.user(ustack),
      kernel: texts.kernel(kstack),
      count,
      ...(words.some((w) => w !== 0n) ? { stackWords: words } : {}),
    });
  }
  return { type: 'samples', samples, malformed };
}

/** ustack(perf) lines with BPFTRACE_NO_USER_SYMBOLS=1: "\t7f12ab 0x7f12ab ([unknown])". */
export function parseUserStack(text: string): bigint[] {
  const out: bigint[] = [];
  for (const line of text.split('\n')) {
    const token = line.trim().split(' ')[0];
    if (token && /^[0-9a-f]+$/i.test(token)) out.push(BigInt('0x' + token));
  }
  return out;
}

/**
 * ustack(raw)/kstack(raw): one hex address per line, leaf first; 0.23 prints
 * the line breaks escaped ("\\n" inside the JSON string), and a stack may end
 * in a 0 entry.
 */
export function parseRawStack(text: string): bigint[] {
  const out: bigint[] = [];
  for (const token of text.split(/\\[nt]|\s+/)) {
    if (!/^[0-9a-f]+$/i.test(token)) continue;
    const address = BigInt('0x' + token);
    if (address !== 0n) out.push(address);
  }
  return out;
}

/** kstack lines: "    vfs_read+273"; the offset is dropped, names are what flame graphs show. */
export function parseKernelStack(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const plus = trimmed.lastIndexOf('+');
    out.push(plus > 0 ? trimmed.slice(0, plus) : trimmed);
  }
  return out;
}

/**
 * The only loader of the native addon (native/, built by node-gyp). Says what
 * to do when it is missing instead of failing with a bare dlopen error.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MixprofError } from './errors.js';
import type { RawPythonChain } from './python/captured.js';
import { injectedFault } from './fault-injection.js';
import { packageRoot } from './package-root.js';
import { missingLibrary, packageFor } from './runtime-packages.js';

export interface ElfSegment {
  vaddr: bigint;
  offset: bigint;
  filesz: bigint;
  memsz: bigint;
  flags: number;
}

export interface ElfInfo {
  type: 'exec' | 'dyn' | 'rel' | 'core' | 'other';
  buildId: string | null;
  debuglink: string | null;
  hasDebugInfo: boolean;
  hasSymtab: boolean;
  loadSegments: ElfSegment[];
}

export interface ElfSymbol {
  value: bigint;
  size: number;
}

export interface UsdtProbe {
  provider: string;
  name: string;
  address: bigint;
  semaphore: bigint;
}

export interface MemberLayout {
  offset: number;
  size: number | null;
  bitOffset?: number;
  bitSize?: number;
}

export interface StructLayoutRequest {
  type: string;
  members: string[];
}

export interface StructLayoutResult {
  type: string;
  size: number | null;
  members: Record<string, MemberLayout | null>;
}

export interface SymbolizedAddress {
  module: string | null;
  moduleBase: bigint;
  relAddr: bigint;
  fileOffset: bigint | null;
  /** No symbol: the distance past the start of the function .eh_frame describes around the address (null: none does). */
  fdeDistance: number | null;
  name: string | null;
  symOffset: number;
  /** The function's first bytes set up a frame pointer (null: no symbol or no code). */
  functionFramePointer: boolean | null;
  /** As a return address: the frame is addressed through %rbp at the call (from CFI, else the prologue). */
  framePointer: boolean | null;
  /** At this very address (an interrupted leaf), the function's frame pointer is in place. */
  frameReady: boolean | null;
  /**
   * For a leaf whose frame pointer is not in place: the word counted from the
   * stack pointer that holds its return address, when %rbp still holds the
   * caller's frame (from the CFI); null otherwise.
   */
  returnSlot: number | null;
}

export interface SymbolizerModule {
  name: string;
  low: bigint;
  high: bigint;
  bias: bigint | null;
  buildId: string | null;
  hasDebugInfo: boolean;
  symbolCount: number;
  /** The file actually opened (root-prefixed) and the separate debug file found. */
  mainFile: string | null;
  debugFile: string | null;
}

export interface SymbolizerOptions {
  maps: string;
  root?: string;
  /** File to open for a path as the maps spell it, where root + path does not reach it. */
  files?: Record<string, string>;
  extraFiles?: string[];
  debugDirs?: string[];
}

export interface NativeSymbolizer {
  symbolize(addresses: BigUint64Array): SymbolizedAddress[];
  /** What names each address: its function's start by symbol, by .eh_frame (with bit 63 set), or the address itself. The DWARF sampler counts by these. */
  frameStarts(addresses: BigUint64Array): BigUint64Array;
  updateMaps(maps: string, files?: Record<string, string>): void;
  modules(): SymbolizerModule[];
  close(): void;
}

export interface DwarfSamplerOptions {
  /** The compiled bpf/dwarf-sampler.bpf.c. */
  object: string;
  pid: number;
  hz: number;
  /** Native frames kept per sample. */
  maxFrames: number;
  /** Bytes of user stack copied per sample, a multiple of 1024 up to 65536. */
  stackBytes: number;
  /** Ring buffer size, a power of two. */
  ringMiB: number;
  /** Its modules and unwinder serve the unwinding; it must outlive the sampler. */
  symbolizer: NativeSymbolizer;
  /** struct walk_config's bytes (packWalkConfig in src/sampler/walk-fields.ts): sample Python frames too. */
  python?: Uint8Array;
  /** Also sample the threads that are off CPU, hz times a second (wall-clock mode). */
  wall?: boolean;
  /** The first wall-clock pass's weight (a dump's mark on it, up to 2^24): the later passes weigh 1. */
  firstPassWeight?: number;
  /** A test's fault: the first this many wall-clock passes fail, as a failed bpf_iter_create does. */
  failWallPasses?: number;
  /** Also sample the processes the target forks, and theirs, from their first instruction (not with wall). */
  follow?: boolean;
  /**
   * Records carry their thread (DwarfStack.tid), as thread roots need; when
   * false a pool's threads share their records (tid 0) and each full poll
   * says how many samples each thread got (DwarfPoll.threadSamples). Default true.
   */
  perThread?: boolean;
  /** Log every count with its sample's time and thread (DwarfPoll.timeline), for a timeline. */
  timeline?: boolean;
  /**
   * Distinct records kept numbered; past it, at a full poll, the numbers are
   * forgotten (DwarfPoll.forgetStacks) and records seen again come again.
   * Default 2048: what mixprof holds per record (its stacks as BigInts)
   * grows until then, and with 8,192 the known chains at 1000 Hz took 12
   * minutes to get there.
   */
  recordsKept?: number;
  /**
   * How user stacks are unwound: with the modules' .eh_frame compiled into
   * rows, in the kernel where they hold and in user space for the rest (the
   * default), in user space only, or by libdwfl alone.
   */
  unwinder?: 'kernel' | 'tables' | 'libdwfl';
  /** Unwind every stack the rows unwind with libdwfl too, and count where they differ (DwarfPoll.unwinds); the kernel's unwinds are sent with the copy they are checked against. */
  checkUnwind?: boolean;
  /** A test's fault: the rows' CFA offsets are 8 bytes off, as a broken table's would be. */
  skewCfiRows?: boolean;
}

/** A process followed from the target: forked (from parent), exited, or exec'd another program (no longer sampled). */
export interface FollowedProcessEvent {
  kind: 'fork' | 'exit' | 'exec';
  pid: number;
  parent: number;
  /** CLOCK_MONOTONIC, in milliseconds (as process.hrtime). */
  timeMs: number;
}

export interface DwarfPoll {
  /** pid: the process (the target, or one followed from it) the record belongs to, here and below. */
  threads: { pid: number; tid: number; comm: string }[];
  /** frames: code, instr, flags, first line number per frame, innermost first. */
  chains: { pid: number; hash: bigint; truncated: boolean; frames: BigUint64Array }[];
  /**
   * Records (process, thread when perThread, chain, GIL, both stacks leaf
   * first, how the unwind ended) first seen since the last poll, each with its number: later polls
   * count it by number alone. Leaves in the same function make one record,
   * shown by the first address seen.
   * complete: the unwind ended at an outermost frame (the thread's first function).
   * gil: GIL_* of bpf/dwarf-sampler.h (0 when not read).
   * beyondCopy: the unwind stopped after reading the stack beyond the copy from the live process (which may have moved on, or ended).
   * short: the kernel's unwind as far as it went, sent instead of a copy while the ring was over 7/8 full.
   */
  stacks: DwarfStack[];
  /** Samples since the last poll: pairs of a record's number and its count. */
  counts: Float64Array;
  /**
   * With the timeline option, at every poll: the counts made since the last,
   * in the order made, as quadruples of the sample's time (CLOCK_MONOTONIC
   * ns), its thread, its record's number (handed over with this poll or
   * before) and the clock periods it stands for.
   */
  timeline?: Float64Array;
  /** With the counts of a full poll, when records are not per thread: triples of process, thread and the samples the thread got since the last. */
  threadSamples?: Float64Array;
  /** Threads the sampler keeps something for: those sampled that have not exited. */
  threadsKept: number;
  /** The numbers handed over so far will not come again (the sampler let them go to bound its memory). */
  forgetStacks: boolean;
  /** Bytes taken from the ring since the last poll (how fast it fills). */
  drainedBytes: number;
  /** Followed processes forked, exited or exec'd since the last poll, in order; and the target's own exit. */
  processes: FollowedProcessEvent[];
  /** Totals since the start. */
  dropped: number;
  malformed: number;
  /** The target exec'd another program: nothing is sampled after that. */
  execd: boolean;
  /** Wall-clock passes over a process's threads that could not run (bpf_iter_create failed), since the start. */
  tickErrors: number;
  /** The target's stacks since the start: unwound with the rows, by libdwfl; checked against libdwfl, and of those differing. */
  unwinds: UnwindCounts;
}

export interface DwarfStack {
  id: number;
  pid: number;
  tid: number;
  chain: bigint;
  gil: number;
  user: BigUint64Array;
  kernel: BigUint64Array;
  complete: boolean;
  beyondCopy?: boolean;
  short?: boolean;
  runnable?: boolean;
  waiting?: boolean;
}

export interface UnwindCounts {
  /** Unwound in the kernel. */
  kernel: number;
  /** Copied and unwound in user space with the rows, or by libdwfl. */
  tables: number;
  libdwfl: number;
  checked: number;
  differed: number;
  /** Checking: the kernel's unwinds held to libdwfl's of the same sample's copy. */
  kernelChecked: number;
  kernelDiffered: number;
}

export interface NativeDwarfSampler {
  /** Attaches to every CPU's clock. */
  start(): void;
  /**
   * Drains the ring buffer, unwinding every sample. full = false hands over
   * what must reach JavaScript while the target lives (threads, chains, new
   * records and their counts, process events) and keeps the counts of
   * records handed over before for the next full poll: most stacks recur,
   * so counts handed over once a second are fewer than once per drain.
   */
  poll(full?: boolean): DwarfPoll;
  /** Detaches; a last poll() then collects what is left. */
  stop(): void;
  /** Whether pid is sampled as a process followed from the target (the kernel's map: exact before its fork is polled). */
  follows(pid: number): boolean;
  /** Follows a process forked from the target before sampling started; false when it cannot be (not following, map full, followed already). */
  adopt(pid: number): boolean;
  /** From the next poll, unwinds a followed process with this symbolizer (over its own maps); null: with the target's again. */
  unwindWith(pid: number, symbolizer: NativeSymbolizer | null): void;
  close(): void;
}

export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  /** False for a directory, FIFO, socket or device, which the readers refuse. */
  readonly regular: boolean;
}

/** The kernel's text symbols, sorted by the low 32 bits of their addresses (native/src/kallsyms.h). */
export interface NativeKallsyms {
  readonly starts: Uint32Array;
  /** The i-th symbol's name is names[nameStarts[i], nameEnds[i]). */
  readonly nameStarts: Uint32Array;
  readonly nameEnds: Uint32Array;
  readonly names: Uint8Array;
}

export interface NativeAddon {
  elfInfo(path: string): ElfInfo;
  /** What the ELF readers would open at path (inside the target's root for /proc/PID/root/...), or null. */
  fileIdentity(path: string): FileIdentity | null;
  /**
   * The separate debug file of the ELF at `file` (DWARF or a symbol table), or null: the
   * one debug-file search (native/src/debug_search.h), contained in the target's root.
   */
  findDebugFile(query: { file: string; pathInTarget: string; root: string; extraFiles: readonly string[]; debugDirs: readonly string[] }): string | null;
  /** The table of kallsyms text given in chunks. */
  parseKallsyms(chunks: readonly Uint8Array[]): NativeKallsyms;
  /** /proc/kallsyms read and parsed on a worker thread; null when it cannot be read. */
  readKallsyms(): Promise<NativeKallsyms | null>;
  /** The same on this thread. */
  readKallsymsSync(): NativeKallsyms | null;
  /** Clears O_NONBLOCK on a descriptor (Node makes stdout's pipe non-blocking). */
  setBlocking(fd: number): void;
  /** Drops this process's pages that are a file's own bytes (read-only private mappings without private copies) and trims malloc; what was mapped before. */
  releaseStartupPages(): { fileBytes: number; mappings: number };
  /** The uid owning the TCP socket local:localPort connected to remote:remotePort (sock_diag); null when there is none. */
  tcpSocketOwner(localAddress: string, localPort: number, remoteAddress: string, remotePort: number): number | null;
  lookupSymbols(path: string, names: string[]): Record<string, ElfSymbol>;
  /** Sections by name: their link-time address and size (absent when the file has none of that name). */
  lookupSections(path: string, names: string[]): Record<string, { address: bigint; size: number }>;
  /** The file's SystemTap (USDT) probes (.note.stapsdt): link-time address, and the semaphore's (0n: none). */
  usdtProbes(path: string): UsdtProbe[];
  /** Split-off parts (link-time [start, end)) of the function at start, from .eh_frame and the jumps into them. */
  functionParts(path: string, start: bigint, size: number): { start: bigint; end: bigint }[];
  /**
   * The unwind rows compiled from the file's .eh_frame (bpf/cfi-unwind.h:
   * pc, CFI_* kind, CFA offset, where %rbp is saved), and the addresses where
   * a row is not the rule the CFI gives there (none, unless compiling is wrong).
   */
  cfiRows(path: string): { pc: BigUint64Array; kind: Uint8Array; cfaOffset: Int32Array; rbpOffset: Int16Array; mismatches: BigUint64Array };
  structLayout(debugPath: string, requests: StructLayoutRequest[]): StructLayoutResult[];
  readMemory(pid: number, address: bigint, length: number): Buffer | null;
  readMemoryBatch(pid: number, addresses: BigUint64Array, lengths: Uint32Array): (Buffer | null)[];
  Symbolizer: new (options: SymbolizerOptions) => NativeSymbolizer;
  DwarfSampler: new (options: DwarfSamplerOptions) => NativeDwarfSampler;
  /**
   * The DWARF sampler's Python walk (bpf/python-walk.h, built for user space)
   * over memory regions: the thread state carrying key (0n: none) and its
   * chain hashed from seed. For tests, which hold it to src/python/walk.ts.
   */
  walkImage(config: Uint8Array, regions: readonly { address: bigint; bytes: Uint8Array }[], key: bigint, seed: bigint): { threadState: bigint; chain: RawPythonChain | null };
}

interface NodeGypBuild {
  /** The addon's file: build/Release (built from source) first, then prebuilds/<platform>-<arch>/ (shipped in the package). */
  resolve(dir: string): string;
}

const require = createRequire(import.meta.url);
const ADDON_DIR = (): string => path.join(packageRoot(), 'native');

let resolvedFile: string | undefined;

/** The addon's file, looked for once; throws where there is neither a build nor a prebuilt one for this platform. */
export function addonFile(): string {
  resolvedFile ??= (require('node-gyp-build') as NodeGypBuild).resolve(ADDON_DIR());
  return resolvedFile;
}

/** The DWARF sampler's BPF object (CO-RE), built and shipped beside the addon. */
export function dwarfSamplerObject(): string {
  return path.join(path.dirname(addonFile()), 'dwarf-sampler.bpf.o');
}

let loaded: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (loaded) return loaded;
  let file: string | null = null;
  try {
    file = addonFile();
    if (injectedFault('addon-load') !== null) throw new Error('injected fault: addon-load');
    loaded = require(file) as NativeAddon;
  } catch (error) {
    const message = (error as Error).message;
    const library = missingLibrary(message);
    const pkg = library ? packageFor(library) : null;
    if (library) {
      throw new MixprofError('ADDON_MISSING', `the native addon needs ${library}, which is not installed`, `install it with \`apt-get install ${pkg ?? library}\``, { cause: error });
    }
    throw new MixprofError(
      'ADDON_MISSING',
      file ? `the native addon could not be loaded (${file}: ${message.split('\n')[0]})` : `there is no native addon for ${process.platform}-${process.arch} in ${ADDON_DIR()}`,
      // A source checkout has its set-up; an installed package builds with node-gyp.
      existsSync(path.join(packageRoot(), 'scripts', 'setup.sh'))
        ? 'build it with `npm run setup` (installs what it needs: libdw-dev, libelf-dev, g++...)'
        : `build it from source: \`npx node-gyp rebuild --directory ${ADDON_DIR()}\` (needs g++, make, libdw-dev, libelf-dev, libbpf-dev, clang, bpftool)`,
      { cause: error },
    );
  }
  return loaded;
}

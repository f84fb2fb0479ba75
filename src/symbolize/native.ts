/**
 * Names native user addresses with the addon's libdwfl symbolizer over a
 * snapshot of the target's maps (so names stay right after the target exits),
 * and classifies each frame for the merge: eval loop, interpreter plumbing,
 * thread root, or ordinary code.
 */
import path from 'node:path';
import type { NativeAddon, NativeSymbolizer, SymbolizedAddress } from '../native.js';
import { findMapping, isExecutable, parseMaps, type Mapping } from '../target/maps.js';
import { readableFiles } from '../target/files.js';
import type { AddressRange } from '../target/interpreter.js';
import { INTERPRETER_FUNCTIONS } from '../python/versions.js';
import { readMapsText, type TargetProcess } from '../target/process.js';

/**
 * eval: the interpreter's eval loop; plumbing: the interpreter's other code;
 * root: where a thread's stack starts; greenlet: where a greenlet's own stack
 * starts (its bootstrap: what lies below it is the stack of whoever first
 * switched into it); code: everything else.
 */
export type NativeRole = 'eval' | 'plumbing' | 'root' | 'greenlet' | 'code';

export interface NativeFrame {
  readonly address: bigint;
  /** What a flame graph shows: the function, or [lib.so+0xOFFSET] when unknown. */
  readonly name: string;
  readonly symbol: string | null;
  readonly module: string | null;
  readonly role: NativeRole;
  /** As a return address: the frame is addressed through its frame pointer, so the unwind to its caller can be trusted. */
  readonly framePointer: boolean | null;
  /** The function's first bytes set up a frame pointer (how a build is told to keep them). */
  readonly functionFramePointer: boolean | null;
  /**
   * As a leaf: the frame pointer is in place at this address (not before the
   * prologue's mov, not at the return), so the unwind does not skip the caller.
   */
  readonly frameReady: boolean | null;
  /** See SymbolizedAddress.returnSlot: where a frame-pointer sample finds the caller of a leaf without its frame in place. */
  readonly returnSlot: number | null;
  /** In an executable file mapping of the target. */
  readonly mapped: boolean;
}

/** glibc's symbol table names versioned aliases: "__libc_start_main@@GLIBC_2.34". */
const SYMBOL_VERSION = /@{1,2}[A-Z][A-Z0-9_.]*$/;
/** Where every thread's stack starts. */
const ROOT_FUNCTIONS = new Set(['_start', '__libc_start_main', '__libc_start_main_impl', '__libc_start_call_main', 'start_thread', 'clone', 'clone3', '__clone', '__clone3']);
/** The greenlet module's bootstrap of a new greenlet (greenlet 2 and 3 in C++; g_initialstub alone in greenlet 1). */
const GREENLET_BOOTSTRAP = /^(?:greenlet::\w+::)?(?:inner_bootstrap|g_initialstub)(?:\(|$)/;
const { evalLoopNames: EVAL_FUNCTIONS, evalLoopPart: EVAL_LOOP_PART, plumbing: PLUMBING } = INTERPRETER_FUNCTIONS;

const REFRESH_INTERVAL_MS = 1000;
const MAX_CHECKED_ADDRESSES = 100_000;
const MAX_CACHED_FRAMES = 200_000;
const MAX_MAPPED_LATER = 4096;

export interface NativeSymbolizerOptions {
  readonly target: TargetProcess;
  readonly extraFiles: readonly string[];
  /** Path of the interpreter's ELF (libpython or the executable), for plumbing. */
  readonly interpreterPath: string | null;
  /** The eval loop's split-off parts, eval frames even where no symbol names them. */
  readonly evalLoopParts?: readonly AddressRange[];
}

/** What an address is once the symbolizer is closed (a followed process that ended: its frames were named before). */
const UNNAMED: SymbolizedAddress = { module: null, moduleBase: 0n, relAddr: 0n, fileOffset: null, fdeDistance: null, name: null, symOffset: 0, functionFramePointer: null, framePointer: null, frameReady: null, returnSlot: null };

export class NativeFrames {
  /**
   * The addon's symbolizer: this process's own, or (a forked process that
   * has mapped no code since its fork) its parent's, through parent.
   */
  private own: NativeSymbolizer | null = null;
  private parent: NativeFrames | null = null;
  /** Forked processes naming their frames with this one's symbolizer; it is closed once the last lets go. */
  private sharers = 0;
  private closed = false;
  private mappings: Mapping[];
  private readonly cache = new Map<bigint, NativeFrame>();
  private readonly checked = new Set<bigint>();
  /** Maps snapshots taken that found new code: stacks unwound before one did not know that code. */
  private snapshots = 0;
  /** The code each of those snapshots found, with the snapshot's number. */
  private readonly mappedLater: { readonly start: bigint; readonly end: bigint; readonly snapshot: number }[] = [];
  private lastRefresh = 0;
  private readonly onOwnSymbolizer: ((symbolizer: NativeSymbolizer) => void) | null;

  constructor(
    private readonly addon: NativeAddon,
    mapsText: string,
    private readonly options: NativeSymbolizerOptions,
    forked?: { readonly parent: NativeFrames; readonly onOwnSymbolizer: (symbolizer: NativeSymbolizer) => void },
  ) {
    if (forked) {
      this.mappings = forked.parent.mappings;
      this.parent = forked.parent;
      forked.parent.sharers++;
      this.onOwnSymbolizer = forked.onOwnSymbolizer;
      return;
    }
    const all = parseMaps(mapsText);
    this.mappings = all.filter(isExecutable);
    this.own = new addon.Symbolizer({
      maps: mapsText,
      root: options.target.root,
      files: Object.fromEntries(readableFiles(addon, options.target, all)),
      extraFiles: [...options.extraFiles],
    });
    this.onOwnSymbolizer = null;
  }

  /**
   * The frames of a process forked from this one: named with this
   * symbolizer (its mappings are the fork's) until the process maps code of
   * its own since the fork (a worker that imports a C extension), when it
   * gets a symbolizer over its own maps, handed to onOwnSymbolizer (the
   * sampler then unwinds the process with it).
   */
  forProcess(target: TargetProcess, onOwnSymbolizer: (symbolizer: NativeSymbolizer) => void): NativeFrames {
    return new NativeFrames(this.addon, '', { ...this.options, target }, { parent: this, onOwnSymbolizer });
  }

  private get symbolizer(): NativeSymbolizer | null {
    return this.closed ? null : this.shared();
  }

  /** What forked processes sharing this one's symbolizer name with: kept for them after this one is closed. */
  private shared(): NativeSymbolizer | null {
    return this.own ?? this.parent?.shared() ?? null;
  }

  /** A forked process no longer names its frames with this symbolizer. */
  private letGo(): void {
    this.sharers--;
    if (this.closed && this.sharers === 0) this.release();
  }

  /** Closed, and no forked process names through it any more: its own symbolizer goes, and its hold on its parent's. */
  private release(): void {
    this.own?.close();
    this.parent?.letGo();
    this.parent = null;
  }

  /**
   * Takes a new maps snapshot when addresses fall outside the known executable
   * mappings (a library loaded after start); a no-op once the target is gone.
   * Unwinds without frame pointers yield junk addresses too, so each unknown
   * address triggers at most one look, and looks are at most one a second.
   */
  noteAddresses(addresses: Iterable<bigint>): void {
    for (const address of addresses) {
      if (findMapping(this.mappings, address) || this.checked.has(address)) continue;
      if (this.checked.size > MAX_CHECKED_ADDRESSES) this.checked.clear();
      this.checked.add(address);
      const now = Date.now();
      if (now - this.lastRefresh < REFRESH_INTERVAL_MS) return;
      this.lastRefresh = now;
      this.refresh();
      return;
    }
  }

  /** Takes a maps snapshot now. */
  refreshMaps(): void {
    this.lastRefresh = Date.now();
    this.refresh();
  }

  /**
   * Drops the names of addresses when there are many: junk addresses from
   * frame-pointer walks would otherwise be kept for good. They are looked up
   * again when needed.
   */
  forgetUnused(): void {
    if (this.cache.size > MAX_CACHED_FRAMES) this.cache.clear();
  }

  private refresh(): void {
    if (this.symbolizer === null) return;
    const text = readMapsText(this.options.target.pid);
    if (text === null) return;
    const all = parseMaps(text);
    const mappings = all.filter(isExecutable);
    const known = new Set(this.mappings.map((m) => `${m.start} ${m.path}`));
    const found = mappings.filter((m) => !known.has(`${m.start} ${m.path}`));
    // Nothing new and nothing gone: the same code.
    if (found.length === 0 && mappings.length === this.mappings.length) return;
    if (found.length > 0) {
      this.snapshots++;
      for (const m of found) this.mappedLater.push({ start: m.start, end: m.end, snapshot: this.snapshots });
      // Bounded for a process that loads and unloads code for good: stacks of the oldest dropped count as plain stopped ones.
      if (this.mappedLater.length > MAX_MAPPED_LATER) this.mappedLater.splice(0, this.mappedLater.length - MAX_MAPPED_LATER);
    }
    this.mappings = mappings;
    const files = Object.fromEntries(readableFiles(this.addon, this.options.target, all));
    if (this.own) {
      this.own.updateMaps(text, files);
    } else {
      this.own = new this.addon.Symbolizer({ maps: text, root: this.options.target.root, files, extraFiles: [...this.options.extraFiles] });
      this.parent?.letGo();
      this.parent = null;
      this.onOwnSymbolizer?.(this.own);
    }
    this.cache.clear();
    this.checked.clear();
  }

  /** Which maps snapshot stacks arriving now were unwound with (see unwoundBeforeMapped). */
  get snapshot(): number {
    return this.snapshots;
  }

  /**
   * Some address of a stack that arrived under snapshot `snapshot` lies in
   * code a later snapshot found (a library loaded since, a C extension a
   * forked worker imported): the stack was unwound without that code's
   * call frame information, and an unwind that stopped stopped for that.
   */
  unwoundBeforeMapped(addresses: readonly bigint[], snapshot: number): boolean {
    return this.mappedLater.some((m) => m.snapshot > snapshot && addresses.some((a) => a >= m.start && a < m.end));
  }

  /** The addon's symbolizer, whose modules the DWARF sampler unwinds with. */
  symbolizerForUnwinding(): NativeSymbolizer {
    if (this.symbolizer === null) throw new Error('NativeFrames: closed');
    return this.symbolizer;
  }

  /** Symbolizes every address not seen before in one call to the addon. */
  frames(addresses: readonly bigint[]): NativeFrame[] {
    const missing = [...new Set(addresses.filter((a) => !this.cache.has(a)))];
    if (missing.length > 0) {
      const results = this.symbolizer ? this.symbolizer.symbolize(BigUint64Array.from(missing)) : missing.map(() => UNNAMED);
      missing.forEach((address, i) => this.cache.set(address, this.classify(address, results[i]!)));
    }
    return addresses.map((a) => this.cache.get(a)!);
  }

  private classify(address: bigint, raw: SymbolizedAddress): NativeFrame {
    const s = raw.name ? { ...raw, name: raw.name.replace(SYMBOL_VERSION, '') } : raw;
    const mapped = s.module !== null && findMapping(this.mappings, address) !== undefined;
    const inEvalPart = s.name === null && (this.options.evalLoopParts ?? []).some((r) => address >= r.start && address < r.end);
    const name = inEvalPart ? EVAL_LOOP_PART : (s.name ?? unknownName(s));
    let role: NativeRole = 'code';
    if (inEvalPart || (s.name && EVAL_FUNCTIONS.test(s.name))) role = 'eval';
    else if (s.name && ROOT_FUNCTIONS.has(s.name)) role = 'root';
    else if (s.name && GREENLET_BOOTSTRAP.test(s.name) && s.module !== null && /greenlet/.test(path.basename(s.module))) role = 'greenlet';
    else if (s.module !== null && s.module === this.options.interpreterPath && (s.name === null || PLUMBING.test(s.name))) role = 'plumbing';
    return { address, name, symbol: inEvalPart ? EVAL_LOOP_PART : s.name, module: s.module, role, framePointer: s.framePointer, functionFramePointer: s.functionFramePointer, frameReady: s.frameReady, returnSlot: s.returnSlot, mapped };
  }

  /** Lets the symbolizer go: at once, or (one that forked processes share) when the last of them does. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sharers === 0) this.release();
  }
}

/**
 * An address without a symbol is named by its module and the offset of the
 * function .eh_frame describes around it (every address of one unnamed
 * assembly routine is then one frame), or its own offset without one.
 */
function unknownName(s: SymbolizedAddress): string {
  if (s.module === null) return '[unknown]';
  const offset = (s.fileOffset ?? s.relAddr) - BigInt(s.fdeDistance ?? 0);
  return `[${path.basename(s.module)}+0x${offset.toString(16)}]`;
}

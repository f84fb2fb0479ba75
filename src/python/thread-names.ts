/**
 * Python's names for a process's threads (threading.Thread.name). Before
 * 3.14 a thread does not give its name to the kernel, so the sampler and
 * /proc see only the program's; the names are read from threading._active,
 * which holds every started Thread, each with its kernel thread id in
 * _native_id. Threads not started by threading (or a program that never
 * imports it) have no name here.
 */
import { lookupStr, readAttributes, readDict, readInt, readSmallInt } from './dicts.js';
import type { PythonLayout } from './layout.js';
import { readPyUnicode } from './unicode.js';
import { interpreterState } from './walk.js';
import { readPointer, type MemoryReader } from '../target/memory.js';

/** More threads than any process runs: the bound on a garbage dict. */
const MAX_THREADS = 4096;

interface Named {
  readonly tid: number;
  readonly name: string;
}

export class ThreadNames {
  /** threading._active, once found: a module global the threading module never rebinds. */
  private active: bigint | null = null;
  /** What each Thread object read so far held, by its address: a read between full ones reads only new threads. */
  private known = new Map<bigint, Named>();

  constructor(
    private readonly memory: MemoryReader,
    private readonly layout: PythonLayout,
    private readonly runtimeAddress: bigint,
  ) {}

  /**
   * Thread id (as the target sees it) to name, or null when threading cannot
   * be read (not imported yet). `full`: read every thread again (a thread
   * renamed since), not only the ones not seen before.
   */
  read(full = false): Map<number, string> | null {
    if (!this.layout.objects) return null;
    const fromCached = this.active === null ? null : this.namesIn(this.active, full);
    if (fromCached) return fromCached;
    this.active = this.findActive();
    return this.active === null ? null : this.namesIn(this.active, full);
  }

  /**
   * Thread id to pthread_t (threading's ident: _active's key), for the
   * threads threading started: what a thread state carries before 3.11.
   */
  idents(): Map<number, bigint> | null {
    const objects = this.layout.objects;
    this.active ??= objects ? this.findActive() : null;
    const threads = this.active === null ? null : readDict(this.memory, objects!, this.active);
    if (!threads || threads.length > MAX_THREADS) return null;
    const idents = new Map<number, bigint>();
    for (const { key, value } of threads) {
      const attributes = readAttributes(this.memory, this.layout, value);
      const tid = attributes && lookupStr(this.memory, this.layout, attributes, '_native_id');
      const id = tid ? readSmallInt(this.memory, objects!, tid) : null;
      const ident = readInt(this.memory, objects!, key);
      if (id !== null && id > 0 && ident !== null) idents.set(id, ident);
    }
    return idents;
  }

  private findActive(): bigint | null {
    const o = this.layout.objects!;
    const interp = interpreterState(this.memory, this.layout, this.runtimeAddress);
    const modules = readPointer(this.memory, interp + BigInt(o.interpModules));
    const loaded = modules === 0n ? null : readDict(this.memory, o, modules);
    const threading = loaded && lookupStr(this.memory, this.layout, loaded, 'threading');
    if (!threading) return null;
    const globals = readDict(this.memory, o, readPointer(this.memory, threading + BigInt(o.moduleDict)));
    return globals && lookupStr(this.memory, this.layout, globals, '_active');
  }

  private namesIn(active: bigint, full: boolean): Map<number, string> | null {
    const threads = readDict(this.memory, this.layout.objects!, active);
    if (!threads || threads.length > MAX_THREADS) return null;
    const names = new Map<number, string>();
    const known = new Map<bigint, Named>();
    for (const { value: thread } of threads) {
      const named = (!full && this.known.get(thread)) || this.readThread(thread);
      if (!named) continue;
      names.set(named.tid, named.name);
      known.set(thread, named);
    }
    // Threads that ended leave _active: their objects' addresses may be reused.
    this.known = known;
    return names;
  }

  private readThread(thread: bigint): Named | null {
    const attributes = readAttributes(this.memory, this.layout, thread);
    if (!attributes) return null;
    const name = lookupStr(this.memory, this.layout, attributes, '_name');
    const tid = lookupStr(this.memory, this.layout, attributes, '_native_id');
    const text = name === null ? null : readPyUnicode(this.memory, this.layout.unicode, name);
    const id = tid === null ? null : readSmallInt(this.memory, this.layout.objects!, tid);
    return text !== null && id !== null && id > 0 ? { tid: id, name: text } : null;
  }
}

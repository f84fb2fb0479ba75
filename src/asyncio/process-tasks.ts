/**
 * A process's asyncio tasks with named frames, read again as often as asked
 * (a dump reads them once; a wall-clock session at each of its looks). The
 * layout is found once; the code objects and thread idents are cached.
 */
import type { NativeAddon } from '../native.js';
import { CodeObjectReader } from '../python/code-objects.js';
import type { PythonLayout } from '../python/layout.js';
import { ThreadNames } from '../python/thread-names.js';
import type { Frame } from '../symbolize/frame.js';
import type { ShowPath } from '../symbolize/python-names.js';
import type { MemoryReader } from '../target/memory.js';
import { findAsyncLayout } from './async-layout.js';
import { TaskGraphReader } from './task-graph.js';
import { nameTasks, type AsyncTask } from './task-tree.js';

export interface AsyncInterpreter {
  readonly layout: PythonLayout;
  readonly runtimeAddress: bigint;
  /** The interpreter's file as mapped (the _asyncio module may be built into it). */
  readonly path: string | null;
}

/** Frames kept named between looks, at most. */
const MAX_NAMED = 50_000;
/** How often a process that has not imported asyncio yet is looked at again. */
const RETRY_MS = 1000;

export class ProcessTasks {
  private readonly codes: CodeObjectReader;
  private readonly names: ThreadNames;
  private tidOfIdent: Map<bigint, number> | null = null;
  /** Frames named at earlier looks (a waiting task is at the same lines look after look). */
  private named = new Map<string, Frame>();
  private graph: TaskGraphReader | null = null;
  private triedAt = -Infinity;

  private constructor(
    private readonly addon: NativeAddon,
    private readonly memory: MemoryReader,
    private readonly pid: number,
    private readonly python: AsyncInterpreter,
    private readonly showPath: ShowPath,
  ) {
    this.codes = new CodeObjectReader(memory, python.layout);
    this.names = new ThreadNames(memory, python.layout, python.runtimeAddress);
  }

  /**
   * A reader of pid's tasks, or why there can be none (one line: an old
   * version). With `waiting`, a process that has not imported asyncio yet
   * (3.14+: no _asyncio module loaded) gets a reader that looks again.
   */
  static open(addon: NativeAddon, memory: MemoryReader, pid: number, python: AsyncInterpreter, showPath: ShowPath, waiting = false): ProcessTasks | { problem: string } {
    const tasks = new ProcessTasks(addon, memory, pid, python, showPath);
    const problem = tasks.findGraph();
    return problem === null || (waiting && problem.notYet) ? tasks : { problem: problem.problem };
  }

  /** Whether the tasks can be read (asyncio imported). */
  get ready(): boolean {
    return this.graph !== null;
  }

  private findGraph(): { problem: string; notYet?: boolean } | null {
    this.triedAt = performance.now();
    const found = findAsyncLayout(this.addon, this.memory, this.pid, this.python.layout, this.python.path);
    if ('problem' in found) return found;
    this.graph = new TaskGraphReader(this.memory, this.python.layout, found.layout, this.python.runtimeAddress);
    return null;
  }

  /** The tasks now. */
  read(): AsyncTask[] {
    if (!this.graph && performance.now() - this.triedAt >= RETRY_MS) this.findGraph();
    if (!this.graph) return [];
    const raw = this.graph.read();
    // Before 3.14 a task's thread is known by its pthread ident: threading's idents say whose (read again for a thread not known yet).
    const idents = raw.flatMap((t) => (t.thread && 'ident' in t.thread ? [t.thread.ident] : []));
    if (idents.some((ident) => !this.tidOfIdent?.has(ident))) {
      const byTid = this.names.idents();
      this.tidOfIdent = byTid ? new Map([...byTid].map(([tid, ident]) => [ident, tid])) : this.tidOfIdent;
    }
    if (this.named.size > MAX_NAMED) this.named = new Map();
    return nameTasks(raw, this.codes, this.showPath, this.tidOfIdent, this.named);
  }
}

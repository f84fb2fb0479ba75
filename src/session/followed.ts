/**
 * The processes a target forks (and they fork), sampled by the target's own
 * DWARF sampler from their first instruction (fork-following): a recycled
 * worker that lives a second is sampled for that second, with no attach of
 * its own. Each gets its stacks merged apart, as a ProcessRun of its own,
 * timed by the kernel's fork and exit.
 *
 * A forked process has its parent's layout, interpreter address and
 * mappings; the code objects its frames point at are read from its own
 * memory, or from its parent's once it has exited (those it was forked
 * with are still there). Its native frames are named and unwound with its
 * parent's symbolizer until it maps code of its own (a worker importing a
 * C extension after the fork); from then on with one over its own maps,
 * let go once it has ended and its frames are named.
 */
import type { SamplerEvent } from '../sampler/sampler.js';
import type { FollowedProcessEvent, NativeAddon, NativeSymbolizer } from '../native.js';
import type { NativeFrames } from '../symbolize/native.js';
import { showsThreadNames, type ProfileBuilder, type ProfileOptions } from '../profile/profile.js';
import { readTextOrNull } from '../read-text.js';
import { parseMaps, type Mapping } from '../target/maps.js';
import { forkedMemory, processMemory, type MemoryReader } from '../target/memory.js';
import { threadNamingFor, type ThreadNaming } from '../symbolize/thread-naming.js';
import { hasMemory, procPath } from '../target/process.js';
import type { StopReason } from '../sampler/sampler.js';
import type { Attachment } from './attach.js';
import { epochMs } from '../sampler/kernel-clock.js';

export interface FollowedRun {
  readonly pid: number;
  readonly comm: string;
  readonly builder: ProfileBuilder;
  /** When it was forked and when it ended (ms since the epoch). */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly reason: StopReason;
}

interface Followed {
  readonly pid: number;
  comm: string | null;
  readonly memory: MemoryReader;
  readonly native: NativeFrames;
  readonly builder: ProfileBuilder;
  readonly naming: ThreadNaming | null;
  readonly startedAt: number;
  endedAt: number | null;
  /** endedAt is when checkAlive found it gone, not the kernel's exit time. */
  endedByCheck?: boolean;
  reason: StopReason | null;
}

/**
 * Whether a process runs the same image as the target, mapped where the
 * target has it: a fork that has not exec'd since (an exec maps the program
 * anew, elsewhere). Compared by where each of the files named is mapped first.
 */
export function sameImage(target: readonly Mapping[], other: readonly Mapping[], files: readonly string[]): boolean {
  const firstStart = (maps: readonly Mapping[], file: string): bigint | null => {
    let low: bigint | null = null;
    for (const m of maps) if (m.path === file && (low === null || m.start < low)) low = m.start;
    return low;
  };
  let compared = 0;
  for (const file of new Set(files)) {
    const a = firstStart(target, file);
    const b = firstStart(other, file);
    if (a === null && b === null) continue;
    if (a !== b) return false;
    compared++;
  }
  return compared > 0;
}

export class FollowedProcesses {
  private readonly processes = new Map<number, Followed>();
  /** Ended ones whose PID was given to a newer process. */
  private readonly reused: Followed[] = [];
  /** The sampler's: unwinds a process with a symbolizer of its own. */
  private unwindWith: (pid: number, symbolizer: NativeSymbolizer | null) => void = () => undefined;

  constructor(
    private readonly addon: NativeAddon,
    private readonly attached: Attachment,
    private readonly profileOptions: ProfileOptions,
  ) {}

  /**
   * A process forked from the target (or from one followed) before sampling
   * started, to be followed from now on: true when it runs the target's
   * image and adopt (the sampler's) took it.
   */
  adoptRunning(pid: number, parent: number, mapsText: string | null, adopt: (pid: number) => boolean): boolean {
    if (mapsText === null || this.processes.get(pid)?.endedAt === null) return false;
    const files = [this.attached.target.exe, ...(this.attached.interpreter ? [this.attached.interpreter.path] : [])];
    if (!sameImage(this.attached.mappings, parseMaps(mapsText), files) || !adopt(pid)) return false;
    this.add(pid, parent, Date.now());
    return true;
  }

  /** Where a process that maps code of its own goes to be unwound with its own symbolizer. */
  useSampler(sampler: { unwindWith?(pid: number, symbolizer: NativeSymbolizer | null): void }): void {
    this.unwindWith = (pid, symbolizer) => sampler.unwindWith?.(pid, symbolizer);
  }

  /** A fork, exit or exec the sampler reported (an exit or exec after the process's last records). */
  onProcess(event: FollowedProcessEvent): void {
    if (event.kind === 'fork') {
      this.add(event.pid, event.parent, epochMs(event.timeMs));
      return;
    }
    const p = this.processes.get(event.pid);
    if (!p) return;
    const at = epochMs(event.timeMs);
    if (p.endedAt !== null) {
      // Found gone by checkAlive while its exit record waited in the ring: the kernel's time is the exact one.
      if (p.endedByCheck) p.endedAt = Math.min(p.endedAt, at);
      p.endedByCheck = false;
      return;
    }
    p.endedAt = at;
    p.reason = event.kind === 'exit' ? 'target-exited' : 'target-execd';
    this.letGo(p);
  }

  /** Names an ended process's frames and lets its symbolizer go (its PID may be another process's next). */
  private letGo(p: Followed): void {
    this.unwindWith(p.pid, null);
    p.builder.nameNativeFrames();
    p.native.close();
  }

  /** Lets every process's symbolizer go, once their profiles are made. */
  close(): void {
    for (const p of [...this.reused, ...this.processes.values()]) p.native.close();
  }

  /** A record of a followed process (one whose fork record was lost is added as first seen); returns the builder that took it. */
  onRecord(pid: number, event: SamplerEvent): ProfileBuilder {
    let p = this.processes.get(pid);
    if (!p) p = this.add(pid, this.attached.target.pid, Date.now());
    if (event.type === 'thread' && p.comm === null) p.comm = event.thread.comm;
    p.builder.apply(event);
    if (event.type === 'thread') p.naming?.onThread(event.thread.tid);
    return p.builder;
  }

  /** Ends the runs of processes that are gone though no exit record came (the ring buffer was full). */
  checkAlive(): void {
    for (const p of this.processes.values()) {
      if (p.endedAt === null && !hasMemory(p.pid)) {
        // As late as this check runs after its exit (a loaded machine delays it): its exit record, if one comes, says when.
        p.endedAt = Date.now();
        p.endedByCheck = true;
        p.reason = 'target-exited';
        this.letGo(p);
      }
    }
  }

  /** Every followed process's run; those still running end with the target's sampling. */
  finish(reason: StopReason, at: number): FollowedRun[] {
    for (const p of this.processes.values()) if (p.endedAt === null) p.naming?.refresh();
    return [...this.reused, ...this.processes.values()].map((p) => ({
      pid: p.pid,
      comm: p.comm ?? this.attached.target.comm,
      builder: p.builder,
      startedAt: p.startedAt,
      endedAt: p.endedAt ?? at,
      reason: p.reason ?? reason,
    }));
  }

  private add(pid: number, parent: number, startedAt: number): Followed {
    const old = this.processes.get(pid);
    if (old) {
      if (old.endedAt === null) {
        old.endedAt = startedAt;
        old.reason = 'target-exited';
        this.letGo(old);
      }
      this.reused.push(old);
    }
    const forker = this.processes.get(parent);
    const parentMemory = forker?.memory ?? this.attached.memory;
    const own = processMemory(this.addon, pid);
    const memory = forkedMemory(own, parentMemory, () => hasMemory(pid));
    // Read now, while it runs: a worker's name and directory (which short paths are relative to).
    const comm = readTextOrNull(procPath(pid, 'comm'))?.trimEnd() ?? null;
    const native = (forker?.native ?? this.attached.native).forProcess({ ...this.attached.target, pid }, (symbolizer) => this.unwindWith(pid, symbolizer));
    const builder = this.attached.newBuilder(this.profileOptions, { memory, cwd: this.attached.target.cwd, native });
    const naming = showsThreadNames(this.profileOptions) ? threadNamingFor(this.attached, own, pid, builder) : null;
    const p: Followed = { pid, comm, memory, native, builder, naming, startedAt, endedAt: null, reason: null };
    this.processes.set(pid, p);
    return p;
  }
}

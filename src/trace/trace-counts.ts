/**
 * What the tracing program counted, put together from the maps END printed
 * (trace-records.ts): per code object, calls and their own and total time,
 * with the calls still open at the end timed up to it; collections per
 * generation; imports per module.
 */
import { keyParts, type TraceRecord } from './trace-records.js';

export interface CodeCounts {
  calls: number;
  ownNs: bigint;
  totalNs: bigint;
}

export interface GcCounts {
  readonly generation: number;
  readonly pauses: number;
  readonly totalNs: bigint;
  readonly longestNs: bigint;
  readonly collected: bigint;
}

export interface ImportCounts {
  readonly module: string;
  readonly imports: number;
  readonly ns: bigint;
}

export interface TraceCounts {
  /** By code object address; 0n holds the calls that could not be tied to one. */
  readonly codes: ReadonlyMap<bigint, CodeCounts>;
  /**
   * From the start of counting to the end of the program (bpftrace's clock):
   * calls that ended while bpftrace detached its probes, after mixprof asked
   * it to stop, are counted too, and this is the span they fall in.
   */
  readonly seconds: number | null;
  /** Calls past the depth the program times: counted, not timed. */
  readonly deeperCalls: number;
  /** Calls still open at the end (begun before mixprof asked bpftrace to stop): counted, and timed up to it. */
  readonly openCalls: number;
  readonly gc: readonly GcCounts[];
  readonly imports: readonly ImportCounts[];
}

/** One open call: where a thread still was at the end. */
interface OpenCall {
  readonly depth: number;
  readonly code: bigint;
  readonly startNs: bigint;
  readonly childNs: bigint;
}

/** Collects the records of one run; `counts()` once END has printed. */
export class TraceCountsBuilder {
  private readonly maps = new Map<string, ReadonlyMap<string, bigint>>();
  private endNs: bigint | null = null;
  private startNs: bigint | null = null;

  apply(record: TraceRecord): void {
    if (record.type === 'ready') this.startNs = record.ns;
    // The first print only: bpftrace prints a scalar map again as 0 when it exits, after END cleared it.
    if (record.type === 'map') {
      if (!this.maps.has(record.name)) this.maps.set(record.name, record.entries);
    }
    else if (record.type === 'end') this.endNs = record.ns;
  }

  /** Whether END's output came (a bpftrace killed before it prints nothing). */
  get complete(): boolean {
    return this.endNs !== null;
  }

  /**
   * The counts. stopNs: when bpftrace was asked to stop (its clock), or null
   * when it ended by itself: calls open at the end that began before it are
   * counted and timed up to it; the ones begun after it (while bpftrace
   * detached its probes, their ends unseen) are left out.
   */
  counts(stopNs: bigint | null = null): TraceCounts {
    const codes = new Map<bigint, CodeCounts>();
    const entry = (code: bigint): CodeCounts => {
      let c = codes.get(code);
      if (!c) codes.set(code, (c = { calls: 0, ownNs: 0n, totalNs: 0n }));
      return c;
    };
    for (const [code, n] of this.byCode('@calls')) entry(code).calls += Number(n);
    for (const [code, n] of this.byCode('@own')) entry(code).ownNs += n;
    for (const [code, n] of this.byCode('@total')) entry(code).totalNs += n;
    const end = stopNs !== null && this.endNs !== null && stopNs < this.endNs ? stopNs : this.endNs;
    const open = this.openCalls(end);
    if (end !== null) closeOpenCalls(open, end, entry);
    let openCalls = 0;
    for (const calls of open.values()) openCalls += calls.length;
    return {
      codes,
      seconds: this.startNs !== null && this.endNs !== null && this.endNs > this.startNs ? Number(this.endNs - this.startNs) / 1e9 : null,
      deeperCalls: Number(this.maps.get('@deeper')?.get('') ?? 0n),
      openCalls,
      gc: this.gcCounts(),
      imports: [...(this.maps.get('@imp_count') ?? new Map<string, bigint>())].map(([module, n]) => ({ module, imports: Number(n), ns: this.maps.get('@imp_ns')?.get(module) ?? 0n })),
    };
  }

  private byCode(name: string): [bigint, bigint][] {
    const out: [bigint, bigint][] = [];
    for (const [key, value] of this.maps.get(name) ?? []) {
      const parts = keyParts(key);
      if (parts?.length === 1) out.push([parts[0]!, value]);
    }
    return out;
  }

  /** The open calls by thread that began before `end`, outermost first, from the @st_* maps keyed (tid, depth). */
  private openCalls(end: bigint | null): Map<bigint, OpenCall[]> {
    const field = (name: string): Map<string, bigint> => new Map(this.maps.get(name) ?? []);
    const codes = field('@st_code');
    const starts = field('@st_start');
    const children = field('@st_child');
    const byThread = new Map<bigint, OpenCall[]>();
    for (const [key, code] of codes) {
      const parts = keyParts(key);
      const start = starts.get(key);
      if (parts?.length !== 2 || start === undefined || (end !== null && start >= end)) continue;
      const [tid, depth] = parts as [bigint, bigint];
      const calls = byThread.get(tid) ?? [];
      calls.push({ depth: Number(depth), code: BigInt.asUintN(64, code), startNs: start, childNs: children.get(key) ?? 0n });
      byThread.set(tid, calls);
    }
    for (const calls of byThread.values()) calls.sort((a, b) => a.depth - b.depth);
    return byThread;
  }

  private gcCounts(): GcCounts[] {
    const value = (name: string, key: string): bigint => this.maps.get(name)?.get(key) ?? 0n;
    return [...(this.maps.get('@gc_count') ?? new Map<string, bigint>())]
      .map(([key, n]) => ({ generation: Number(key), pauses: Number(n), totalNs: value('@gc_ns', key), longestNs: value('@gc_max', key), collected: value('@gc_collected', key) }))
      .sort((a, b) => a.generation - b.generation);
  }
}

/**
 * Counts the calls still open at the end and times them up to it, as the
 * program does at a return: own time less the callees' (the open callee
 * included), total time for the outermost call of each function in the
 * thread only.
 */
export function closeOpenCalls(byThread: ReadonlyMap<bigint, readonly OpenCall[]>, endNs: bigint, entry: (code: bigint) => CodeCounts): void {
  for (const calls of byThread.values()) {
    const counted = new Set<bigint>();
    calls.forEach((call, i) => {
      const elapsed = endNs > call.startNs ? endNs - call.startNs : 0n;
      const inner = calls[i + 1];
      const innerElapsed = inner && endNs > inner.startNs ? endNs - inner.startNs : 0n;
      const own = elapsed - call.childNs - innerElapsed;
      const counts = entry(call.code);
      counts.calls++;
      counts.ownNs += own > 0n ? own : 0n;
      if (!counted.has(call.code)) {
        counted.add(call.code);
        counts.totalNs += elapsed;
      }
    });
  }
}

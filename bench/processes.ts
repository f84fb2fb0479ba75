/** Measuring processes from outside: CPU time, peak memory, BPF program run time. */
import { readFile, readdir, readlink } from 'node:fs/promises';

/**
 * CPU seconds of a process (all its live threads), or null once it is gone.
 * Each thread's schedstat run time is in nanoseconds; /proc/PID/stat counts
 * 10 ms ticks, too coarse for a profiler using 1% of a CPU over 3 s.
 */
export async function cpuSeconds(pid: number): Promise<number | null> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => null);
  if (tasks === null) return null;
  let ns = 0;
  for (const tid of tasks) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0');
    ns += Number(stat.split(' ')[0]);
  }
  return ns / 1e9;
}

/** Peak (VmHWM) and current (VmRSS) resident memory in bytes, or null once the process is gone. */
export async function residentMemory(pid: number): Promise<{ peak: number; now: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const peak = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    const now = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return peak && now ? { peak: Number(peak) * 1024, now: Number(now) * 1024 } : null;
  } catch {
    return null;
  }
}

/** Sum of run_time_ns and run_cnt over the BPF programs a process holds (kernel.bpf_stats_enabled=1). */
export async function bpfStats(pid: number): Promise<{ ns: number; runs: number }> {
  let ns = 0;
  let runs = 0;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) !== 'anon_inode:bpf-prog') continue;
    const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
    ns += Number(/run_time_ns:\s*(\d+)/.exec(info)?.[1] ?? 0);
    runs += Number(/run_cnt:\s*(\d+)/.exec(info)?.[1] ?? 0);
  }
  return { ns, runs };
}

export async function enableBpfStats(): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile('/proc/sys/kernel/bpf_stats_enabled', '1');
}

export interface Reading {
  readonly cpu: number;
  /** Peak resident memory so far (VmHWM). */
  readonly memory: number;
  /** Resident memory now (VmRSS). */
  readonly resident: number;
  readonly bpf: { ns: number; runs: number };
}

async function read(pid: number): Promise<Reading | null> {
  const cpu = await cpuSeconds(pid);
  const memory = await residentMemory(pid);
  if (cpu === null || memory === null) return null;
  return { cpu, memory: memory.peak, resident: memory.now, bpf: await bpfStats(pid) };
}

/**
 * Follows a few processes while they run, keeping their last readings: a
 * process's counters vanish with it, so the values just before its exit are
 * what a measurement ends with.
 */
export class ProcessWatch {
  private readonly last = new Map<number, Reading>();
  private readonly mostResident = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly pids: () => number[]) {}

  start(intervalMs = 100): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void this.snapshot().finally(() => (this.busy = false));
    }, intervalMs);
  }

  /** Fresh readings of the live processes, the last ones of those gone. */
  async snapshot(): Promise<Map<number, Reading>> {
    const now = new Map(this.last);
    for (const pid of this.pids()) {
      const reading = await read(pid);
      if (reading) now.set(pid, reading);
    }
    for (const [pid, reading] of now) {
      this.last.set(pid, reading);
      this.mostResident.set(pid, Math.max(this.mostResident.get(pid) ?? 0, reading.resident));
    }
    return now;
  }

  /** The most resident memory (VmRSS) each process had in the readings since the last call. */
  takeMostResident(): Map<number, number> {
    const most = new Map(this.mostResident);
    this.mostResident.clear();
    return most;
  }

  stop(): Map<number, Reading> {
    clearInterval(this.timer);
    return new Map(this.last);
  }
}

/** Measuring processes from outside: CPU time, peak memory, BPF program run time. */
import { readFile, readdir, readlink } from 'node:fs/promises';

const CLOCK_TICKS = 100;

/** User + system CPU seconds of a process (all its threads), or null once it is gone. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Peak resident memory (VmHWM) in bytes, or null once the process is gone. */
export async function peakMemory(pid: number): Promise<number | null> {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : null;
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
  readonly memory: number;
  readonly bpf: { ns: number; runs: number };
}

async function read(pid: number): Promise<Reading | null> {
  const cpu = await cpuSeconds(pid);
  const memory = await peakMemory(pid);
  if (cpu === null || memory === null) return null;
  return { cpu, memory, bpf: await bpfStats(pid) };
}

/**
 * Follows a few processes while they run, keeping their last readings: a
 * process's counters vanish with it, so the values just before its exit are
 * what a measurement ends with.
 */
export class ProcessWatch {
  private readonly last = new Map<number, Reading>();
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
    for (const [pid, reading] of now) this.last.set(pid, reading);
    return now;
  }

  stop(): Map<number, Reading> {
    clearInterval(this.timer);
    return new Map(this.last);
  }
}

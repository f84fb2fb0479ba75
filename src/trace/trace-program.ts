/**
 * The tracing program (bpf/python-trace.bt) for one interpreter: the thread
 * state walk's offsets from its layout, and the groups of probes it has.
 */
import { loadTemplate, renderTemplate, type ProbePath, type SamplerSettings, walkConstants } from '../sampler/program.js';
import type { PythonLayout } from '../python/layout.js';
import type { ProbeGroups } from './usdt-probes.js';

export const TRACE_TEMPLATE = 'python-trace.bt';

/**
 * Calls deeper than this in one thread are counted but not timed: each open
 * call holds four map entries, and every thread's share the same maps.
 */
export const MAX_CALL_DEPTH = 256;
/** Open calls a return may end at once when the ones above it were never reported returning. */
export const UNWIND_LIMIT = 8;
/** Thread states searched for a calling thread's (then cached), as the sampler's bpftrace walk. */
const MAX_THREADS_SEARCHED = 2048;

export function traceProgram(layout: PythonLayout, runtimeAddress: bigint, groups: ProbeGroups, probeFile: ProbePath): string {
  const settings: SamplerSettings = { pid: 0, hz: 1, maxDepth: 1, maxThreads: MAX_THREADS_SEARCHED, userDepth: 1, gil: false };
  const c = walkConstants(layout, runtimeAddress, settings);
  return renderTemplate(loadTemplate(TRACE_TEMPLATE), {
    PROBE_FILE: probeFile,
    FUNCTIONS: groups.functions,
    GC: groups.gc,
    IMPORTS: groups.imports,
    // The thread state walk (bpf/current-frame.part.bt), only where calls are traced.
    ...(groups.functions
      ? {
          LINE: groups.entryNeedsLine,
          MAX_CALL_DEPTH,
          UNWIND_LIMIT,
          MAX_THREADS: c.max_threads,
          THREAD_KEY_IS_FSBASE: c.thread_key_is_fsbase,
          RUNTIME_ADDR: c.runtime_addr,
          RT_INTERP_HEAD: c.rt_interp_head,
          IS_THREADS_HEAD: c.is_threads_head,
          TS_PREV: c.ts_prev,
          TS_NEXT: c.ts_next,
          TS_THREAD_KEY: c.ts_thread_key,
          TS_FRAME: c.ts_frame,
          FRAME_VIA_CFRAME: c.frame_via_cframe,
          CFRAME_CURRENT: c.cframe_current,
          FR_CODE: c.fr_code,
          CODE_MASK: c.code_mask,
          CO_NAME: BigInt(layout.code.name),
          // PyUnicode_AsUTF8 of a compact ASCII string is its data, right after the header; of any other, the utf8 pointer after utf8_length.
          ASCII_DATA: BigInt(layout.unicode.asciiSize),
          UTF8_POINTER: BigInt(layout.unicode.asciiSize + 8),
        }
      : {}),
  });
}

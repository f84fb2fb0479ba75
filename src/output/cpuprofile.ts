/**
 * Chrome DevTools' .cpuprofile: the Profile object of the DevTools protocol
 * (Profiler.Profile), which the Performance panel (and VS Code, speedscope)
 * load as a flame chart with bottom-up and call-tree tables: Python profiles
 * viewed with the browser's tools, the py2devtools idea.
 *
 * The node tree is the stacks' prefix tree under "(root)". DevTools draws its
 * timeline from samples/timeDeltas, one entry per sample (up to MAX_ENTRIES);
 * the stacks are aggregated, so each stack's samples come one after another,
 * in the order the stacks are given, 1/hz apart. With several threads the timeline is the
 * threads' time laid end to end, longer than the wall-clock duration.
 */
import type { Frame } from '../symbolize/frame.js';
import type { OutputProfile } from './output-profile.js';

/** Sample entries at most: about 12 MB of JSON. */
export const MAX_ENTRIES = 1_000_000;

/** The url of kernel frames, so they stand apart from native code of the same name. */
export const CPUPROFILE_KERNEL_URL = '[kernel.kallsyms]';

export interface CallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  /** 0-based; -1 when unknown. */
  lineNumber: number;
  columnNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount: number;
  children: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds. */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Python: the qualname, its file as url and the running line (0-based), so
 * "qualname (file.py:LINE)" is rebuilt from them; DevTools links url:line.
 * Native: the symbol with its module as url. No script: scriptId "0".
 */
export function callFrame(frame: Frame): CallFrame {
  switch (frame.kind) {
    case 'python':
      return {
        functionName: frame.func ?? frame.name,
        scriptId: '0',
        url: frame.file ?? '',
        lineNumber: frame.line === undefined ? -1 : frame.line - 1,
        columnNumber: -1,
      };
    case 'native':
      return { functionName: frame.name, scriptId: '0', url: frame.file ?? '', lineNumber: -1, columnNumber: -1 };
    case 'kernel':
      return { functionName: frame.name, scriptId: '0', url: CPUPROFILE_KERNEL_URL, lineNumber: -1, columnNumber: -1 };
    case 'marker':
      return { functionName: frame.name, scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 };
  }
}

function callFrameKey(frame: CallFrame): string {
  return JSON.stringify([frame.functionName, frame.url, frame.lineNumber]);
}

export function formatCpuprofile(profile: OutputProfile): string {
  const root: ProfileNode = {
    id: 1,
    callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 },
    hitCount: 0,
    children: [],
  };
  const nodes: ProfileNode[] = [root];
  // A node's children by their call frame: the stacks share prefixes.
  const childIndex = new Map<ProfileNode, Map<string, ProfileNode>>();
  const callFrames = new Map<Frame, { frame: CallFrame; key: string }>();

  const child = (parent: ProfileNode, frame: Frame): ProfileNode => {
    let shown = callFrames.get(frame);
    if (!shown) {
      const cf = callFrame(frame);
      shown = { frame: cf, key: callFrameKey(cf) };
      callFrames.set(frame, shown);
    }
    let children = childIndex.get(parent);
    if (!children) {
      children = new Map();
      childIndex.set(parent, children);
    }
    let node = children.get(shown.key);
    if (!node) {
      node = { id: nodes.length + 1, callFrame: shown.frame, hitCount: 0, children: [] };
      nodes.push(node);
      parent.children.push(node.id);
      children.set(shown.key, node);
    }
    return node;
  };

  // DevTools' format has one entry per sample (each stack's, one after
  // another). Past MAX_ENTRIES samples, each entry stands for `per` samples
  // and its delta says so: the file stays within a bound however many samples
  // a store or a folded file holds, and every stack keeps its time to within
  // one entry (counts are handed out from the running total, so the rounding
  // does not add up). Deltas are whole microseconds, as V8 writes them,
  // rounded from the running total so that the sum does not drift.
  let total = 0;
  for (const stack of profile.stacks) if (stack.frames.length > 0 && stack.count > 0) total += stack.count;
  const per = Math.max(1, Math.ceil(total / MAX_ENTRIES));
  const period = (1e6 * per) / profile.hz;
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let elapsed = 0;
  let counted = 0;
  for (const stack of profile.stacks) {
    // An empty stack has no node of its own; DevTools would show it as "(root)" time.
    if (stack.frames.length === 0 || stack.count <= 0) continue;
    const before = Math.round(counted / per);
    counted += stack.count;
    const entries = Math.round(counted / per) - before;
    if (entries === 0) continue;
    let node = root;
    for (const frame of stack.frames) node = child(node, frame);
    node.hitCount += entries;
    for (let i = 0; i < entries; i++) {
      samples.push(node.id);
      const next = Math.round(samples.length * period);
      timeDeltas.push(next - elapsed);
      elapsed = next;
    }
  }

  const startTime = profile.startTime === null ? 0 : Math.round(profile.startTime * 1000);
  const out: CpuProfile = { nodes, startTime, endTime: startTime + elapsed, samples, timeDeltas };
  return JSON.stringify(out) + '\n';
}

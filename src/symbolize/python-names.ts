/**
 * Names Python chains: each captured chain becomes named frames, split into
 * the groups that one call of the eval loop runs (the unit the merge
 * replaces an eval-loop native frame with: see FrameGrouping). Shim frames
 * (3.12+) are not Python code and are never shown. A chain is named as soon
 * as it arrives, while the target still holds its code objects.
 */
import type { RawPythonChain } from '../python/captured.js';
import type { CodeObjectReader, ResolvedPythonFrame } from '../python/code-objects.js';
import { endsGroup, isShimFrame } from '../python/frame-flags.js';
import type { FrameLayout } from '../python/layout.js';
import type { Frame } from './frame.js';
import { shortenPath } from './short-paths.js';

export interface PythonStack {
  /** Innermost group first; inside a group, innermost frame first. */
  readonly groups: Frame[][];
  readonly truncated: boolean;
  readonly unknownFrames: number;
}

export const UNKNOWN_PYTHON_FRAME = '[unknown python frame]';

/** How a source path is shown in a frame's name (short or full). */
export type ShowPath = (file: string) => string;

/** "qualname (file.py:LINE)", with function, full path and line kept apart for the structured formats. */
export function pythonFrame(resolved: ResolvedPythonFrame & { status: 'ok' }, showPath: ShowPath): Frame {
  const shown = showPath(resolved.filename);
  const func = resolved.qualname;
  const file = resolved.filename;
  return resolved.line === null ? { kind: 'python', name: `${func} (${shown})`, func, file } : { kind: 'python', name: `${func} (${shown}:${resolved.line})`, func, file, line: resolved.line };
}

export function pythonStack(chain: RawPythonChain, layout: FrameLayout, reader: CodeObjectReader, showPath: ShowPath): PythonStack {
  reader.prefetch(chain.frames.map((f) => f.code));
  const groups: Frame[][] = [];
  let group: Frame[] = [];
  let unknownFrames = 0;
  const close = (): void => {
    if (group.length > 0) groups.push(group);
    group = [];
  };
  for (const raw of chain.frames) {
    if (isShimFrame(layout, raw)) {
      close();
      continue;
    }
    const resolved = reader.resolve(raw);
    if (resolved.status === 'ok') group.push(pythonFrame(resolved, showPath));
    else if (resolved.status === 'unknown') {
      group.push({ kind: 'python', name: UNKNOWN_PYTHON_FRAME });
      unknownFrames++;
    }
    if (endsGroup(layout, raw)) close();
  }
  close();
  return { groups, truncated: chain.truncated, unknownFrames };
}

/** Where a process's Python frames are read from. */
export interface PythonSource {
  readonly layout: FrameLayout;
  readonly reader: CodeObjectReader;
  /** The target's working directory, for short source paths. */
  readonly cwd: string | null;
}

/** A process's named chains by hash, kept for the session (the sampler sends each chain once). */
export class PythonNames {
  private readonly chains = new Map<bigint, PythonStack>();
  private readonly showPath: ShowPath;

  constructor(
    private readonly source: PythonSource,
    fullPaths: boolean,
  ) {
    this.showPath = fullPaths ? (file) => file : (file) => shortenPath(file, source.cwd);
  }

  add(chain: RawPythonChain): void {
    if (!this.chains.has(chain.hash)) this.chains.set(chain.hash, pythonStack(chain, this.source.layout, this.source.reader, this.showPath));
  }

  get(hash: bigint): PythonStack | null {
    return this.chains.get(hash) ?? null;
  }

  /** The innermost Python function of a named chain (for live counts). */
  leafFunction(hash: bigint): string | null {
    const leaf = this.chains.get(hash)?.groups[0]?.[0];
    return leaf ? (leaf.func ?? leaf.name) : null;
  }
}

/** Reading folded output back in tests. */
export interface FoldedStack {
  readonly frames: string[];
  readonly count: number;
}

export function parseFolded(text: string): FoldedStack[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.lastIndexOf(' ');
      const count = Number(line.slice(space + 1));
      if (!Number.isInteger(count) || count <= 0) throw new Error(`bad folded line: ${line}`);
      return { frames: line.slice(0, space).split(';'), count };
    });
}

/** Function names of the Python frames (marked _[j]), root first. */
export function pythonNames(frames: readonly string[]): string[] {
  return frames.filter((f) => f.endsWith('_[j]')).map((f) => f.slice(0, -4).replace(/ \([^()]*\)$/, ''));
}

/** With --threads the root frame is "comm (tid)". */
export function threadOf(frames: readonly string[]): number | null {
  const m = /\((\d+)\)$/.exec(frames[0] ?? '');
  return m ? Number(m[1]) : null;
}

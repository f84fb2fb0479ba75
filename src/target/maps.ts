/** /proc/PID/maps, parsed. */
export interface Mapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly perms: string;
  readonly offset: bigint;
  readonly inode: number;
  /** File path, pseudo name such as [heap], or '' for anonymous memory. */
  readonly path: string;
}

const LINE = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+([0-9a-f]+)\s+\S+\s+(\d+)\s*(.*)$/;

export function parseMaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    mappings.push({
      start: BigInt('0x' + m[1]),
      end: BigInt('0x' + m[2]),
      perms: m[3]!,
      offset: BigInt('0x' + m[4]),
      inode: Number(m[5]),
      path: m[6]!.trim(),
    });
  }
  return mappings;
}

export function isFileMapping(mapping: Mapping): boolean {
  return mapping.path.startsWith('/') && mapping.inode !== 0;
}

export function isExecutable(mapping: Mapping): boolean {
  return mapping.perms[2] === 'x';
}

/** The mapping holding an address (mappings sorted by start, as the kernel lists them). */
export function findMapping(mappings: readonly Mapping[], address: bigint): Mapping | undefined {
  let lo = 0;
  let hi = mappings.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = mappings[mid]!;
    if (address < m.start) hi = mid - 1;
    else if (address >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}

/** A file's executable mapping in the target, as /proc/PID/maps has it. */
export interface BinaryMapping {
  /** The path the target sees, as native frames name their file. */
  readonly file: string;
  readonly start: bigint;
  readonly limit: bigint;
  /** Offset in the file of the mapping's first byte. */
  readonly offset: bigint;
}

/** The first executable mapping of each file, the program file (when mapped) first. */
export function binaryMappings(mappings: readonly Mapping[], program: string): BinaryMapping[] {
  const found = new Map<string, BinaryMapping>();
  for (const m of mappings) {
    if (!m.perms.includes('x') || !m.path.startsWith('/') || found.has(m.path)) continue;
    found.set(m.path, { file: m.path, start: m.start, limit: m.end, offset: m.offset });
  }
  const main = found.get(program);
  return main ? [main, ...[...found.values()].filter((b) => b !== main)] : [...found.values()];
}

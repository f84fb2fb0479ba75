/**
 * Parses the tracing program's `-f json` output (bpf/python-trace.bt): its
 * printf lines and the maps END prints.
 */
import { bpftraceJsonLine } from '../sampler/bpftrace-records.js';

export type TraceRecord =
  /** Counting starts (BEGIN), at ns on the maps' clock (null from a program that does not say). */
  | { readonly type: 'ready'; readonly ns: bigint | null }
  /** First call of a code object. */
  | { readonly type: 'code'; readonly address: bigint }
  /** END's clock reading, on the maps' clock (bpftrace's nsecs). */
  | { readonly type: 'end'; readonly ns: bigint }
  /** A printed map: its name ("@calls") and its entries, keys as bpftrace prints them ("tid,depth" for two). */
  | { readonly type: 'map'; readonly name: string; readonly entries: ReadonlyMap<string, bigint> };

/** Parses one stdout line; null for blank lines and anything else. */
export function parseTraceLine(line: string): TraceRecord | null {
  const record = bpftraceJsonLine(line);
  if (record === null || 'text' in record) return null;
  const { type, data } = record;
  if (type === 'printf' && typeof data === 'string') return parsePrintf(data.replace(/\n$/, ''));
  if (type === 'map' && typeof data === 'object' && data !== null) {
    const [name, value] = Object.entries(data)[0] ?? [];
    if (name === undefined) return null;
    return { type: 'map', name, entries: mapEntries(value) };
  }
  return null;
}

function parsePrintf(text: string): TraceRecord | null {
  const [kind, value] = text.split(' ');
  if (kind === 'R') return { type: 'ready', ns: value !== undefined && /^\d+$/.test(value) ? BigInt(value) : null };
  if ((kind === 'N' || kind === 'E') && value !== undefined && /^\d+$/.test(value)) {
    return kind === 'N' ? { type: 'code', address: BigInt(value) } : { type: 'end', ns: BigInt(value) };
  }
  return null;
}

/** A keyed map's entries, or a scalar map (`@deeper = count()`) as the one entry "". Values print signed. */
function mapEntries(value: unknown): Map<string, bigint> {
  const entries = new Map<string, bigint>();
  const integer = (v: unknown): bigint | null => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? BigInt(v) : null);
  if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      const n = integer(v);
      if (n !== null) entries.set(key, n);
    }
  } else {
    const n = integer(value);
    if (n !== null) entries.set('', n);
  }
  return entries;
}

/** A map key's parts as unsigned 64-bit numbers ("-5,3" → [2^64-5, 3]); null when a part is not an integer. */
export function keyParts(key: string): bigint[] | null {
  const parts = key.split(',');
  if (!parts.every((p) => /^-?\d+$/.test(p))) return null;
  return parts.map((p) => BigInt.asUintN(64, BigInt(p)));
}

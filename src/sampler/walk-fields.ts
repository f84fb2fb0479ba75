/**
 * The Python walk's constants, listed once. The bpftrace template reads each
 * as {{NAME}} (the field's name upper-cased); mixprof packs them, in this
 * order and with C's alignment, into `struct walk_config` of
 * bpf/dwarf-sampler.h, which the addon copies into the C walk's
 * configuration as it is. A test checks that header against this list.
 */

/** flag: a C __u32 that is 0 or 1; u32 and u64: numbers of that width. */
export type WalkFieldType = 'flag' | 'u32' | 'u64';

export const WALK_FIELDS = [
  ['max_depth', 'u32'],
  ['max_threads', 'u32'],
  /** Threads are matched by pthread_t (the task's fsbase), not by native_thread_id. */
  ['thread_key_is_fsbase', 'flag'],
  /** 3.11/3.12: tstate->cframe->current_frame. */
  ['frame_via_cframe', 'flag'],
  /** Before 3.11 the instruction is an index: the code pointer is hashed too. */
  ['hash_code', 'flag'],
  /** Read the GIL's state per sample; through the interpreter's pointer (3.12+) or at runtime_addr + gil_offset. */
  ['gil', 'flag'],
  ['gil_via_interp', 'flag'],
  ['runtime_addr', 'u64'],
  ['rt_interp_head', 'u64'],
  ['is_threads_head', 'u64'],
  ['ts_prev', 'u64'],
  ['ts_next', 'u64'],
  ['ts_thread_key', 'u64'],
  ['ts_frame', 'u64'],
  ['cframe_current', 'u64'],
  ['fr_code', 'u64'],
  ['code_mask', 'u64'],
  ['fr_instr', 'u64'],
  ['instr_mask', 'u64'],
  ['fr_previous', 'u64'],
  ['fr_flags', 'u64'],
  ['co_firstlineno', 'u64'],
  ['gil_offset', 'u64'],
  ['gil_locked', 'u64'],
  ['gil_last_holder', 'u64'],
] as const satisfies readonly (readonly [string, WalkFieldType])[];

type Field = (typeof WALK_FIELDS)[number];
type ValueOf<T extends WalkFieldType> = T extends 'flag' ? boolean : T extends 'u32' ? number : bigint;

/** One value per field, typed by the field's kind. */
export type WalkConstants = { readonly [F in Field as F[0]]: ValueOf<F[1]> };

const SIZE: Readonly<Record<WalkFieldType, number>> = { flag: 4, u32: 4, u64: 8 };

/** Where each field sits in struct walk_config (natural alignment, as C lays it out), and the struct's size. */
export function walkConfigLayout(): { readonly offsets: ReadonlyMap<string, number>; readonly size: number } {
  const offsets = new Map<string, number>();
  let at = 0;
  let align = 1;
  for (const [name, type] of WALK_FIELDS) {
    const size = SIZE[type];
    at = Math.ceil(at / size) * size;
    offsets.set(name, at);
    at += size;
    align = Math.max(align, size);
  }
  return { offsets, size: Math.ceil(at / align) * align };
}

/** struct walk_config's bytes, for the addon. */
export function packWalkConfig(c: WalkConstants): Uint8Array {
  const { offsets, size } = walkConfigLayout();
  const out = Buffer.alloc(size);
  const values = c as Readonly<Record<string, boolean | number | bigint>>;
  for (const [name, type] of WALK_FIELDS) {
    const at = offsets.get(name)!;
    const value = values[name]!;
    if (type === 'u64') out.writeBigUInt64LE(value as bigint, at);
    else out.writeUInt32LE(type === 'flag' ? (value ? 1 : 0) : (value as number), at);
  }
  return out;
}

/** The template's {{NAME}} values. */
export function walkTemplateValues(c: WalkConstants): Record<string, boolean | number | bigint> {
  const values = c as Readonly<Record<string, boolean | number | bigint>>;
  return Object.fromEntries(WALK_FIELDS.map(([name]) => [name.toUpperCase(), values[name]!]));
}

/**
 * Faults a test can ask for, to walk the paths real faults take where the
 * real fault cannot be made on demand: MIXPROF_FAULT="name[:N],...".
 *   addon-load     the native addon fails to load
 *   dwarf-poll:N   the DWARF sampler's first poll once N samples came fails
 *   top-draw:N     mixprof top's Nth screen update throws
 *   miss-threads   the sampler's samples of every thread but the main one are dropped
 *   wall-pass:N    the DWARF sampler's first N wall-clock passes fail
 *   cfi-rows       the compiled unwind rows' CFA offsets are 8 bytes off (a broken table)
 *   late-drains    the DWARF sampler's ring is 1 MiB and drained 4 times a second, whatever the rate (it fills)
 * Nothing else reads it; unset, it costs one lookup at start.
 */
const faults = new Map<string, number>();
for (const item of (process.env['MIXPROF_FAULT'] ?? '').split(',')) {
  const [name, count] = item.trim().split(':');
  if (name) faults.set(name, count === undefined ? 1 : Number(count));
}

/** The fault's count when it was asked for, else null. */
export function injectedFault(name: 'addon-load' | 'dwarf-poll' | 'top-draw' | 'miss-threads' | 'wall-pass' | 'cfi-rows' | 'late-drains'): number | null {
  return faults.get(name) ?? null;
}

/**
 * The GIL codes both samplers send (GIL_* in bpf/dwarf-sampler.h, the same
 * numbers in bpf/python-sampler.bt); 0, not read, has no state.
 */
import type { GilState } from './sampler.js';

const GIL_CODES: Readonly<Record<number, GilState>> = { 1: 'held', 2: 'released', 3: 'no-thread' };

export function gilStateFromCode(code: number): GilState | undefined {
  return GIL_CODES[code];
}

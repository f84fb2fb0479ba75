/**
 * A large synthetic profile: many distinct stacks of Python, native and kernel
 * frames, from a fixed seed (the same stacks every time). The SVG test checks
 * what is drawn from it; the benchmark times writing it.
 */
import type { StackCount } from '../../src/profile/profile.js';
import type { Frame } from '../../src/symbolize/frame.js';

export function syntheticStacks(count: number): StackCount[] {
  const frame = (kind: Frame['kind'], name: string): Frame => ({ kind, name });
  const py = Array.from({ length: 3000 }, (_, i) => frame('python', `fn_${i} (mod${i % 50}.py:${i})`));
  const native = Array.from({ length: 2000 }, (_, i) => frame('native', `native_${i}`));
  const kernel = Array.from({ length: 500 }, (_, i) => frame('kernel', `kernel_${i}`));
  let seed = 1;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const stacks: StackCount[] = [];
  for (let i = 0; i < count; i++) {
    const depth = 10 + rnd(40);
    const frames: Frame[] = [];
    for (let j = 0; j < depth; j++) {
      frames.push(j < depth * 0.6 ? py[(rnd(5) + j * 7) % py.length]! : j < depth * 0.9 ? native[rnd(30) + j]! : kernel[rnd(20)]!);
    }
    stacks.push({ frames, count: 1 + rnd(100) });
  }
  return stacks;
}

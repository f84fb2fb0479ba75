/**
 * Wall-clock mode: a thread off CPU but runnable is waiting for a CPU. Its
 * kernel stack then shows how it was taken off (the timer interrupt, the
 * return to user mode, the scheduler), which reads as kernel time; it is
 * shown as the marked leaf [runnable] instead, under what the thread was
 * doing: its user frames, and the kernel frames of a call it was preempted
 * in (not those of a return to user mode, which are all mechanism).
 */
import type { Frame } from '../symbolize/frame.js';

export const RUNNABLE_FRAME: Frame = { kind: 'marker', name: '[runnable]' };

/** The kernel's ways off the CPU and back: the scheduler, interrupt entry and exit, resched points. */
const SWITCHING = /^(__schedule|schedule|schedule_\w+|preempt_schedule\w*|__cond_resched|_cond_resched|finish_task_switch.*|__raw_callee_save_\w+|\w*irq_enable\w*|raw_irqentry_exit_cond_resched|irqentry_exit\w*|asm_sysvec_\w+|sysvec_\w+|asm_common_interrupt|common_interrupt|__sysvec_\w+|exit_to_user_mode\w*|syscall_exit_to_user_mode\w*|__syscall_exit_to_user_mode_work|arch_exit_to_user_mode_prepare.*)$/;
/** Frames that say the thread was on its way back to user mode: its kernel work was done. */
const RETURNING = /^(irqentry_exit_to_user_mode|exit_to_user_mode\w*|syscall_exit_to_user_mode\w*|__syscall_exit_to_user_mode_work)$/;

/** A runnable thread's kernel frames (leaf first) without the way it was switched out. */
export function runnableKernelFrames(leafFirst: readonly string[]): string[] {
  let i = 0;
  let returning = false;
  while (i < leafFirst.length && SWITCHING.test(leafFirst[i]!)) {
    if (RETURNING.test(leafFirst[i]!)) returning = true;
    i++;
  }
  return returning ? [] : leafFirst.slice(i);
}

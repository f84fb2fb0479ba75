import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runnableKernelFrames } from '../../src/profile/runnable.js';

test('preempted in user code: the way off the CPU is all mechanism, no kernel frame is left', () => {
  // Leaf first, as the sampler gives them.
  const frames = ['pvm_irq_enable', '__raw_callee_save_pvm_irq_enable', 'finish_task_switch.isra.0', '__schedule', 'schedule', 'irqentry_exit_to_user_mode', 'asm_sysvec_apic_timer_interrupt'];
  assert.deepEqual(runnableKernelFrames(frames), []);
});

test('preempted on the way back from a system call: its work was done, no kernel frame is left', () => {
  const frames = ['__schedule', 'schedule', 'exit_to_user_mode_loop', 'syscall_exit_to_user_mode', 'do_syscall_64', 'entry_SYSCALL_64_after_hwframe'];
  assert.deepEqual(runnableKernelFrames(frames), []);
});

test('preempted inside a system call: the call stays, the scheduler goes', () => {
  const frames = ['__schedule', 'preempt_schedule_common', '__cond_resched', 'copy_page_to_iter', 'filemap_read', 'vfs_read', 'ksys_read', 'do_syscall_64', 'entry_SYSCALL_64_after_hwframe'];
  assert.deepEqual(runnableKernelFrames(frames), ['copy_page_to_iter', 'filemap_read', 'vfs_read', 'ksys_read', 'do_syscall_64', 'entry_SYSCALL_64_after_hwframe']);
});

test('woken from a wait and not yet running: the wait it was in stays', () => {
  const frames = ['__schedule', 'schedule', 'futex_wait_queue', '__futex_wait', 'futex_wait', 'do_futex', '__x64_sys_futex', 'do_syscall_64', 'entry_SYSCALL_64_after_hwframe'];
  assert.deepEqual(runnableKernelFrames(frames), frames.slice(2));
});

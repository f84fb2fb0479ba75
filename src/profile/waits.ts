/**
 * What a waiting thread waits for, read off the frames of the call it waits
 * in, as a person reading its stack would: the GIL (take_gil), a lock (the
 * interpreter's lock acquires, a pthread mutex), a sleep, I/O or a child
 * process (the system call). A deadlock shows as threads each waiting for a
 * lock under the Python line that takes it.
 */
import type { Frame } from '../symbolize/frame.js';

/** The interpreter's wait for the GIL (3.8-3.15). */
const GIL = /^(take_gil|_PyEval_TakeGIL)$/;
/** The interpreter's lock acquires (_thread.lock, RLock; PyMutex from 3.13) and pthread's mutexes. */
const LOCK = /^(lock_PyThread_acquire_lock|rlock_acquire|acquire_timed|PyThread_acquire_lock_timed|PyThread_acquire_lock|_PyMutex_LockTimed|_PyMutex_LockSlow|PyMutex_Lock|_PySemaphore_Wait|_PyRecursiveMutex_Lock\w*|_*pthread_mutex_(lock|timedlock|clocklock)\w*|_*pthread_rwlock_\w*lock\w*)$/;
const SLEEP = /^(time_sleep|pysleep)$/;
const SLEEP_CALLS = new Set(['nanosleep', 'clock_nanosleep']);
const IO_CALLS = new Set([
  'read', 'readv', 'pread64', 'preadv', 'preadv2', 'write', 'writev', 'pwrite64', 'recvfrom', 'recvmsg', 'recvmmsg', 'sendto', 'sendmsg', 'sendmmsg',
  'poll', 'ppoll', 'select', 'pselect6', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'accept', 'accept4', 'connect', 'io_uring_enter', 'io_getevents', 'sendfile64', 'splice',
]);
const CHILD_CALLS = new Set(['wait4', 'waitid']);

export type WaitKind = 'gil' | 'lock' | 'sleep' | 'io' | 'child';

/** What the thread waits for, or null when its frames do not say. */
export function waitingFor(frames: readonly Frame[], syscall: string | null): WaitKind | null {
  const native = frames.filter((f) => f.kind === 'native').map((f) => f.func ?? f.name);
  if (native.some((n) => GIL.test(n))) return 'gil';
  if (native.some((n) => LOCK.test(n))) return 'lock';
  if (native.some((n) => SLEEP.test(n)) || (syscall !== null && SLEEP_CALLS.has(syscall))) return 'sleep';
  if (syscall !== null && IO_CALLS.has(syscall)) return 'io';
  if (syscall !== null && CHILD_CALLS.has(syscall)) return 'child';
  return null;
}

/** How a dump's text says it. */
export const WAIT_WORDS: Readonly<Record<WaitKind, string>> = {
  gil: 'waiting for the GIL',
  lock: 'waiting for a lock',
  sleep: 'asleep',
  io: 'waiting for I/O',
  child: 'waiting for a child process',
};

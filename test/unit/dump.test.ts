/** A dump made from a profile with thread roots: which stack each thread is shown at, and how it reads. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dumpThreads, FIRST_PASS_WEIGHT, inDumpOrder, syscallOf, type ProcessDump } from '../../src/profile/thread-dump.js';
import { waitingFor } from '../../src/profile/waits.js';
import { dumpJson, dumpText } from '../../src/output/dump-text.js';
import { emptyStats, type Profile, type StackCount } from '../../src/profile/profile.js';
import { RUNNABLE_FRAME } from '../../src/profile/runnable.js';
import type { Frame } from '../../src/symbolize/frame.js';

const py = (func: string, line: number): Frame => ({ kind: 'python', name: `${func} (app.py:${line})`, func, file: '/srv/app.py', line });
const native = (name: string, file = '/usr/lib/libpython3.11.so.1.0'): Frame => ({ kind: 'native', name, file });
const kernel = (name: string): Frame => ({ kind: 'kernel', name });
const root = (tid: number): Frame => ({ kind: 'marker', name: `t (${tid})` });
const gilRoot: Frame = { kind: 'marker', name: '[GIL released]' };

const LOCK_WAIT: Frame[] = [
  py('main', 3),
  py('take', 9),
  native('lock_PyThread_acquire_lock'),
  native('__futex_abstimed_wait_common', '/lib/libc.so.6'),
  kernel('entry_SYSCALL_64_after_hwframe'),
  kernel('do_syscall_64'),
  kernel('__x64_sys_futex'),
  kernel('futex_wait'),
  kernel('futex_do_wait'),
];

function profile(stacks: StackCount[]): Profile {
  return {
    stacks,
    stats: emptyStats(),
    threads: new Map([
      [10, { tid: 10, comm: 'python3', name: 'MainThread' }],
      [11, { tid: 11, comm: 'python3', name: 'worker-1' }],
      [12, { tid: 12, comm: 'python3' }],
    ]),
  };
}

describe('dumpThreads', () => {
  test("each thread at the first pass's stack, even where later passes found another more often", () => {
    const spin = [py('main', 3), py('spin', 20)];
    const threads = dumpThreads(
      profile([
        { frames: [root(11), gilRoot, ...spin], count: 24, origin: { tid: 11, gil: 'held' } },
        { frames: [root(11), gilRoot, ...LOCK_WAIT], count: FIRST_PASS_WEIGHT + 1, origin: { tid: 11, gil: 'released', offCpu: 'waiting' } },
      ]),
      true,
    );
    assert.equal(threads.length, 1);
    const [t] = threads;
    assert.equal(t!.tid, 11);
    assert.equal(t!.name, 'worker-1');
    assert.equal(t!.gil, 'released');
    assert.equal(t!.state, 'waiting');
    assert.equal(t!.syscall, 'futex');
    assert.equal(t!.waitingIn, 'futex_do_wait');
    assert.equal(t!.waitingFor, 'lock');
    // Innermost first, without the thread's and the GIL's roots.
    assert.deepEqual(t!.frames, [...LOCK_WAIT].reverse());
  });

  test('a thread the first pass missed is shown at the stack found most', () => {
    const threads = dumpThreads(
      profile([
        { frames: [root(12), py('a', 1)], count: 3, origin: { tid: 12 } },
        { frames: [root(12), py('b', 2), RUNNABLE_FRAME], count: 5, origin: { tid: 12, offCpu: 'runnable' } },
      ]),
      false,
    );
    assert.equal(threads[0]!.state, 'runnable');
    assert.equal(threads[0]!.gil, null);
    assert.equal(threads[0]!.name, null);
    assert.deepEqual(threads[0]!.frames, [py('b', 2)], 'the runnable marker is said by the state, not a frame');
    assert.equal(threads[0]!.waitingFor, null);
  });

  test('stacks without an origin (a profile made without thread roots) give no threads', () => {
    assert.deepEqual(dumpThreads(profile([{ frames: [py('a', 1)], count: 1 }]), false), []);
  });

  test('the main thread first, then by thread id', () => {
    const threads = dumpThreads(
      profile([12, 10, 11].map((tid) => ({ frames: [root(tid), py('f', tid)], count: 1, origin: { tid } }))),
      false,
    );
    assert.deepEqual(
      inDumpOrder(11, threads).map((t) => t.tid),
      [11, 10, 12],
    );
  });
});

describe('what a thread waits in and for', () => {
  test('the system call, from its entry point or its body', () => {
    assert.equal(syscallOf([kernel('futex_do_wait'), kernel('__x64_sys_futex')]), 'futex');
    assert.equal(syscallOf([kernel('read_zero'), kernel('vfs_read'), kernel('ksys_read'), kernel('do_syscall_64')]), 'read');
    assert.equal(syscallOf([kernel('asm_sysvec_apic_timer_interrupt')]), null);
  });

  test('the GIL before a lock (take_gil waits on a mutex too), a sleep, I/O, a child', () => {
    assert.equal(waitingFor([native('pthread_cond_timedwait'), native('take_gil')], 'futex'), 'gil');
    assert.equal(waitingFor([native('_PySemaphore_Wait'), native('_PyMutex_LockTimed')], 'futex'), 'lock');
    assert.equal(waitingFor([native('___pthread_mutex_lock')], 'futex'), 'lock');
    assert.equal(waitingFor([native('select'), native('pysleep'), native('time_sleep')], 'select'), 'sleep');
    assert.equal(waitingFor([native('recv')], 'recvfrom'), 'io');
    assert.equal(waitingFor([native('epoll_wait')], 'epoll_wait'), 'io');
    assert.equal(waitingFor([native('waitpid')], 'wait4'), 'child');
    assert.equal(waitingFor([native('something')], 'futex'), null);
    assert.equal(waitingFor([], null), null);
  });
});

describe('the dump as text and as JSON', () => {
  const dump: ProcessDump = {
    pid: 10,
    comm: 'python3',
    python: '3.11.7',
    threads: [
      { tid: 10, comm: 'python3', name: 'Main\u001b]0;x\u0007', gil: 'released', state: 'waiting', syscall: 'futex', waitingIn: 'futex_do_wait', waitingFor: 'lock', frames: [...LOCK_WAIT].reverse() },
      { tid: 11, comm: 'python3', name: null, gil: 'held', state: 'running', syscall: null, waitingIn: null, waitingFor: null, frames: [py('spin', 20)] },
    ],
  };

  test('a heading per thread saying what it does, then its frames innermost first; names escaped', () => {
    const text = dumpText([dump]);
    assert.equal(
      text,
      [
        'Process 10 (python3): Python 3.11.7, 2 threads',
        '',
        'Thread 10 "Main\\x1b]0;x\\x07": waiting for a lock in futex_do_wait (futex), GIL released',
        '    futex_do_wait [kernel]',
        '    futex_wait [kernel]',
        '    __x64_sys_futex [kernel]',
        '    do_syscall_64 [kernel]',
        '    entry_SYSCALL_64_after_hwframe [kernel]',
        '    __futex_abstimed_wait_common (libc.so.6)',
        '    lock_PyThread_acquire_lock (libpython3.11.so.1.0)',
        '    take (app.py:9)',
        '    main (app.py:3)',
        '',
        'Thread 11 "python3": running, holds the GIL',
        '    spin (app.py:20)',
        '',
      ].join('\n'),
    );
  });

  test('--locals: arguments, then the other variables, under each Python frame; why a thread has none', () => {
    const [main, other] = dump.threads;
    const withLocals: ProcessDump = {
      ...dump,
      threads: [
        { ...main!, locals: { frames: [[{ name: 'n', value: '3', argument: true }, { name: 'lock', value: '<_thread.lock at 0x10>', argument: false }], []] } },
        { ...other!, locals: { missing: 'moved-on' } },
      ],
    };
    const lines = dumpText([withLocals]).split('\n');
    const take = lines.indexOf('    take (app.py:9)');
    assert.deepEqual(lines.slice(take, take + 7), ['    take (app.py:9)', '        Arguments:', '            n: 3', '        Locals:', '            lock: <_thread.lock at 0x10>', '    main (app.py:3)', '']);
    assert.ok(lines.includes('    (variables not shown: the thread ran on before they were read)'));
    const parsed = JSON.parse(dumpJson([withLocals])) as { processes: { threads: { locals_missing?: string; frames: { locals?: unknown[] }[] }[] }[] };
    const [first, second] = parsed.processes[0]!.threads;
    assert.deepEqual(first!.frames.at(-2)!.locals, [
      { name: 'n', value: '3', argument: true },
      { name: 'lock', value: '<_thread.lock at 0x10>', argument: false },
    ]);
    assert.deepEqual(first!.frames.at(-1)!.locals, []);
    assert.equal(first!.frames[0]!.locals, undefined, 'kernel and native frames have no variables');
    assert.equal(second!.locals_missing, 'moved-on');
  });

  test('JSON keeps names exact, and says each frame kind, function, file or module, and line', () => {
    const parsed = JSON.parse(dumpJson([dump])) as { processes: { threads: { name: string; waiting_for: string; frames: Record<string, unknown>[] }[] }[] };
    const [main] = parsed.processes[0]!.threads;
    assert.equal(main!.name, 'Main\u001b]0;x\u0007');
    assert.equal(main!.waiting_for, 'lock');
    assert.deepEqual(main!.frames.at(-1), { kind: 'python', name: 'main (app.py:3)', function: 'main', file: '/srv/app.py', line: 3 });
    assert.deepEqual(main!.frames.at(-3), { kind: 'native', name: 'lock_PyThread_acquire_lock', module: '/usr/lib/libpython3.11.so.1.0' });
  });
});

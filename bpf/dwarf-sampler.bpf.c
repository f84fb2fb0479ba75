/*
 * mixprof: sample one process for unwinding with DWARF call frame information
 * in user space (the way perf --call-graph=dwarf does), walking its CPython
 * frames in the same sample.
 *
 * Loaded by the addon (native/src/dwarf_sampler.cc) with libbpf and attached
 * to a cpu-clock perf event on every CPU. Per sample of the target it sends,
 * through a ring buffer:
 *   a chain record    the Python frames of a chain the first time it is seen
 *                     (the same walk and FNV-1a hash as bpf/python-sampler.bt)
 *   a sample record   thread, chain hash, the user registers, the kernel stack
 *                     and a copy of the top of the user stack
 *   a repeat record   (wall-clock mode) a thread still asleep where it was
 *                     last sampled
 * Its configuration (offsets from the same PythonLayout that fills the
 * bpftrace template) is written by the addon before loading.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "dwarf-sampler.h"

#define WALK_TASK struct task_struct
#include "python-walk.h"
#include "cfi-unwind.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the addon before loading. */
const volatile struct sampler_config cfg = {};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20);
} records SEC(".maps");

/* Scratch space, one slot per CPU (the addon sets max_entries to the CPU
   count): records are too large for the 512-byte BPF stack, and a sample
   record for a per-CPU array (32 KiB at most). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sample_record);
} sample_scratch SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct chain_record);
} chain_scratch SEC(".maps");

/* Thread id -> its PyThreadState, re-checked on every use. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, __u64);
} tstates SEC(".maps");

/* Chains already sent; LRU, so a chain evicted is sent again (user space ignores repeats). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, __u8);
} seen SEC(".maps");

/* Processes followed from the target (cfg.follow): pid -> the memory image
   it was forked with (0 for one already running when sampling started: its
   first sample's); one that exec'd has another and is dropped. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MAX_FOLLOWED);
  __type(key, __u32);
  __type(value, __u64);
} followed SEC(".maps");

/* [0] counts changes to followed: wall-clock mode's ticker keeps an iterator
   link per followed process, and looks at the map again when this moves. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} followed_changes SEC(".maps");

static __always_inline void followed_changed(void) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&followed_changes, &zero);
  if (n) __sync_fetch_and_add(n, 1);
}

/* A process forked by the target or one it follows -> the thread that forked
   it. Until the child's interpreter writes the new thread id into its thread
   state (3.11+ keys thread states by it), that state still carries the
   forking thread's; a pthread_t (fsbase) key is the same in the child. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, MAX_FOLLOWED);
  __type(key, __u32);
  __type(value, __u32);
} forked_by SEC(".maps");

/* The modules' compiled rows (bpf/cfi-unwind.h), written by the addon;
   max_entries set at load. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct cfi_row);
} cfi_rows SEC(".maps");

/* Each module's page index into its rows (struct unwind_module). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} cfi_pages SEC(".maps");

/* Process -> its modules with rows, written by the addon as it compiles
   them. A followed process without an entry of its own unwinds with the
   target's (it shares its mappings until it maps code of its own, which
   user space then reports here). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct unwind_modules);
} unwind_modules SEC(".maps");

/* [0] records dropped because the ring buffer was full. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} dropped SEC(".maps");

/* Scratch for the wall-clock iterator: it runs from one reader thread at a
   time, and may sleep and move between CPUs, so it has slots of its own. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sample_record);
} wall_scratch SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct chain_record);
} wall_chain_scratch SEC(".maps");

/* [0] the clock periods the wall-clock pass running stands for: set by the
   addon before each pass (more than 1 when passes were late). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} wall_pass SEC(".maps");

/* Thread id -> its context-switch count (shifted) and OFF_CPU_* state when last sampled off CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, __u64);
} wall_switches SEC(".maps");

static __always_inline __u64 read_u64(__u64 addr) {
  __u64 value = 0;
  if (bpf_probe_read_user(&value, sizeof(value), (const void *)addr) != 0) return 0;
  return value;
}

/* Another task's memory (sleepable programs only): the wall-clock iterator
   runs in mixprof's context, not the target's. */
static __always_inline __u64 read_task_u64(struct task_struct *task, __u64 addr) {
  __u64 value = 0;
  if (bpf_copy_from_user_task(&value, sizeof(value), (const void *)addr, task, 0) != 0) return 0;
  return value;
}

static __always_inline void count_drop(void) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&dropped, &zero);
  if (n) __sync_fetch_and_add(n, 1);
}

/* The Python walk (python-walk.h) made twice: reading the current task's
   memory (perf events) and another task's (the wall-clock iterator);
   READ(state, addr) is the difference. Loops run through bpf_loop() and
   count from its index: see python-walk.h. */

#define READ_CURRENT(state, addr) read_u64(addr)
#define READ_TASK(state, addr) read_task_u64((state)->task, addr)

#define DEFINE_PYTHON_WALK(SUFFIX, READ, READ32, READ_BLOCK, CHAIN_SCRATCH)                               \
  DEFINE_PYTHON_WALK_CORE(SUFFIX, READ, READ32, READ_BLOCK)                                              \
                                                                                                          \
  static __always_inline __u64 thread_state_##SUFFIX(__u32 tid, struct task_struct *task) {               \
    __u64 key = tid;                                                                                      \
    if (cfg.walk.thread_key_is_fsbase) key = BPF_CORE_READ(task, thread.fsbase);                               \
    struct thread_search search = {.task = task, .key = key};                                             \
    /* Thread states are freed and their memory reused (a thread's own is freed while the thread still    \
       runs its exit): a cached one must still carry this thread's key and still be linked in the list    \
       (its predecessor points at it, or, first in the list, the list's head). */                          \
    __u64 *cached = bpf_map_lookup_elem(&tstates, &tid);                                                  \
    __u64 c = cached ? *cached : 0;                                                                       \
    if (c && READ(&search, c + cfg.walk.ts_thread_key) == key) {                                          \
      __u64 prev = READ(&search, c + cfg.walk.ts_prev);                                                   \
      __u64 link = prev ? READ(&search, prev + cfg.walk.ts_next) : threads_head_##SUFFIX(&search);        \
      if (link == c) return c;                                                                            \
    }                                                                                                     \
    __u64 found = search_threads_##SUFFIX(&search, key);                                                  \
    if (found) {                                                                                          \
      bpf_map_update_elem(&tstates, &tid, &found, BPF_ANY);                                               \
      return found;                                                                                       \
    }                                                                                                     \
    /* A forked child's only thread, before its interpreter has taken it as its own: the forking         \
       thread's key (not cached: it is this thread's only for that while). */                            \
    __u32 pid = task->tgid;                                                                               \
    __u32 *forker = tid == pid && !cfg.walk.thread_key_is_fsbase ? bpf_map_lookup_elem(&forked_by, &pid) : 0; \
    if (!forker) return 0;                                                                                \
    return search_threads_##SUFFIX(&search, *forker);                                                     \
  }                                                                                                       \
                                                                                                          \
  /* Whether the thread whose state is ts holds the GIL: it is locked and ts took it last (the holder     \
     writes last_holder when it takes the GIL and when it drops it, before unlocking). */                 \
  static __always_inline __u32 gil_state_##SUFFIX(__u64 ts, struct task_struct *task) {                   \
    if (!ts) return GIL_NO_THREAD;                                                                        \
    struct walk st = {.task = task};                                                                      \
    __u64 gil = cfg.walk.runtime_addr + cfg.walk.gil_offset;                                                        \
    if (cfg.walk.gil_via_interp) {                                                                             \
      __u64 interp = READ(&st, cfg.walk.runtime_addr + cfg.walk.rt_interp_head);                                    \
      gil = interp ? READ(&st, interp + cfg.walk.gil_offset) : 0;                                              \
    }                                                                                                     \
    if (!gil || !READ32(&st, gil + cfg.walk.gil_locked)) return GIL_RELEASED;                                  \
    return READ(&st, gil + cfg.walk.gil_last_holder) == ts ? GIL_HELD : GIL_RELEASED;                          \
  }                                                                                                       \
                                                                                                          \
  /* Walks the Python frames of the thread state ts, hashing them; sends the chain the first              \
     time it is seen. */                                                                                  \
  static __always_inline __u64 python_chain_##SUFFIX(__u64 ts, struct task_struct *task, __u32 pid) {   \
    if (!ts) return 0;                                                                                    \
    /* A followed process's chains are its own (its code objects may differ after the fork), and so are  \
       those of a later process given the same PID (its start time tells them apart): a chain is sent     \
       once per process.                                                                                  \
       */                                                                                                 \
    __u64 seed = CHAIN_HASH_SEED;                                                                 \
    if (pid != cfg.target_pid) {                                                                          \
      seed = (seed ^ pid) * CHAIN_HASH_PRIME;                                                             \
      seed = (seed ^ BPF_CORE_READ(task, group_leader, start_time)) * CHAIN_HASH_PRIME;                   \
    }                                                                                                     \
    struct walk w = {.task = task, .hash = seed};                                                         \
    __u64 frame = hash_chain_##SUFFIX(&w, ts);                                                            \
    if (w.depth == 0) return 0;                                                                           \
    __u64 h = w.hash;                                                                                     \
    if (bpf_map_lookup_elem(&seen, &h)) return h;                                                         \
    __u32 zero = 0;                                                                                       \
    struct chain_record *c = bpf_map_lookup_elem(&CHAIN_SCRATCH, &zero);                                  \
    if (!c) return h;                                                                                     \
    c->kind = RECORD_CHAIN;                                                                               \
    c->depth = w.depth;                                                                                   \
    c->truncated = w.f != 0;                                                                              \
    c->pid = pid;                                                                                         \
    c->hash = h;                                                                                          \
    fill_chain_##SUFFIX(task, frame, w.depth, c);                                                        \
    __u64 size = offsetof(struct chain_record, frames) + (__u64)(w.depth & 0x1ff) * sizeof(struct python_frame); \
    if (size > sizeof(*c)) size = sizeof(*c);                                                             \
    if (bpf_ringbuf_output(&records, c, size, 0) != 0) {                                                  \
      count_drop();                                                                                       \
      return h;                                                                                           \
    }                                                                                                     \
    __u8 one = 1;                                                                                         \
    bpf_map_update_elem(&seen, &h, &one, BPF_ANY);                                                        \
    return h;                                                                                             \
  }

static __always_inline __u64 read_u32_current(void *state, __u64 addr) {
  __u32 v = 0;
  bpf_probe_read_user(&v, sizeof(v), (const void *)addr);
  return v;
}

static __always_inline __u64 read_u32_task(struct task_struct *task, __u64 addr) {
  __u32 v = 0;
  bpf_copy_from_user_task(&v, sizeof(v), (const void *)addr, task, 0);
  return v;
}

#define READ32_CURRENT(state, addr) read_u32_current(state, addr)
#define READ32_TASK(state, addr) read_u32_task((state)->task, addr)

#define READ_BLOCK_CURRENT(state, addr, buf, size) (bpf_probe_read_user(buf, size, (const void *)(addr)) == 0)
#define READ_BLOCK_TASK(state, addr, buf, size) (bpf_copy_from_user_task(buf, size, (const void *)(addr), (state)->task, 0) == 0)

DEFINE_PYTHON_WALK(current, READ_CURRENT, READ32_CURRENT, READ_BLOCK_CURRENT, chain_scratch)
DEFINE_PYTHON_WALK(task, READ_TASK, READ32_TASK, READ_BLOCK_TASK, wall_chain_scratch)

/* One user stack unwound in the kernel, a frame per bpf_loop() step. */
struct native_unwind {
  struct task_struct *task;
  struct unwind_modules *modules;
  struct sample_record *s;
  struct cfi_regs r;
  __u32 depth;
  __u32 status;
  /* The module of the frame before (an index into modules). */
  __u32 module;
};

/* Each read of user memory costs about as much as a frame's whole step
   besides it, so the stack is read a window at a time, from a little below
   the word asked for (the saved %rbp lies just under the return address),
   and the frames above are served from it. The window lies in s->stack,
   past the return addresses the unwind writes there, after where it starts
   and how many bytes it holds: kept in the map, not on the BPF stack, where
   the verifier would follow each refill's outcome as its own state through
   the rest of the step (0.33 s to load the program, against 0.05). */
#define STACK_WINDOW 1024
#define WINDOW_BELOW 64
#define WINDOW_STATE_AT (MAX_NATIVE_DEPTH * 8)
#define WINDOW_AT (WINDOW_STATE_AT + 16)
_Static_assert(WINDOW_AT + STACK_WINDOW + 8 <= MAX_STACK_BYTES, "the window fits the record's stack area");

/* Not a NATIVE_* status: the stack is copied instead. */
#define NATIVE_FALLBACK 3

static __always_inline long read_user(struct native_unwind *u, void *to, __u32 size, __u64 addr, int current) {
  return current ? bpf_probe_read_user(to, size, (const void *)addr) : bpf_copy_from_user_task(to, size, (const void *)addr, u->task, 0);
}

/* The stack word at addr, from the window or a new window read from just
   below it; a word alone where a window cannot be read (it would cross
   the end of the stack's mapping). 1 when read. */
static __always_inline int stack_word(struct native_unwind *u, __u64 addr, __u64 *out, int current) {
  /* [0]: where the window starts, [1]: its length (0: none). */
  __u64 *window = (__u64 *)&u->s->stack[WINDOW_STATE_AT];
  __u64 off = addr - window[0];
  if (addr >= window[0] && off + 8 <= window[1]) {
    __builtin_memcpy(out, &u->s->stack[WINDOW_AT + (off & (STACK_WINDOW - 1))], 8);
    return 1;
  }
  __u64 base = addr - WINDOW_BELOW;
  if (read_user(u, &u->s->stack[WINDOW_AT], STACK_WINDOW, base, current) == 0) {
    window[0] = base;
    window[1] = STACK_WINDOW;
    __builtin_memcpy(out, &u->s->stack[WINDOW_AT + WINDOW_BELOW], 8);
    return 1;
  }
  window[1] = 0;
  return read_user(u, out, 8, addr, current) == 0;
}

static __always_inline int cfi_read_current(struct native_unwind *u, __u64 addr, __u64 *out) {
  return stack_word(u, addr, out, 1);
}

static __always_inline int cfi_read_task(struct native_unwind *u, __u64 addr, __u64 *out) {
  return stack_word(u, addr, out, 0);
}

DEFINE_CFI_STEP(current, struct native_unwind *, cfi_read_current)
DEFINE_CFI_STEP(task, struct native_unwind *, cfi_read_task)

/* Binary searches, a step per bpf_loop() call (nested loops here would
   have the verifier walk every path through them): lo ends as the number of
   entries at or below the key. */
struct module_search {
  struct unwind_modules *modules;
  __u64 pc;
  __u32 lo;
  __u32 hi;
};

static long module_search_step(__u64 i, void *arg) {
  struct module_search *q = arg;
  if (q->lo >= q->hi) return 1;
  __u32 mid = (q->lo + q->hi) >> 1;
  if (q->pc < q->modules->modules[mid & (MAX_UNWIND_MODULES - 1)].low) q->hi = mid;
  else q->lo = mid + 1;
  return 0;
}

struct row_search {
  __u64 pc;
  __u32 first;
  __u32 lo;
  __u32 hi;
  __u32 failed;
};

static long row_search_step(__u64 i, void *arg) {
  struct row_search *q = arg;
  if (q->lo >= q->hi) return 1;
  __u32 mid = (q->lo + q->hi) >> 1;
  __u32 key = q->first + mid;
  const struct cfi_row *row = bpf_map_lookup_elem(&cfi_rows, &key);
  if (!row) {
    q->failed = 1;
    return 1;
  }
  if (q->pc < row->pc) q->hi = mid;
  else q->lo = mid + 1;
  return 0;
}

/* The row for frame i of the unwind, or null with u->status set: NATIVE_STOPPED
   where no row holds (as the user-space unwinder stops), NATIVE_FALLBACK where
   the kernel cannot tell (no module with rows: user space may know more). */
static __always_inline const struct cfi_row *native_row(struct native_unwind *u, __u64 i) {
  __u64 pc = u->r.pc;
  /* A caller's pc is a return address: the call is the instruction before it. */
  __u64 lookup = i == 0 ? pc : pc - 1;
  struct unwind_modules *mods = u->modules;
  u->status = NATIVE_FALLBACK;
  /* Most callers are in the module of the frame before. */
  struct unwind_module *m = &mods->modules[u->module & (MAX_UNWIND_MODULES - 1)];
  if (lookup < m->low || lookup >= m->high) {
    __u32 count = mods->count;
    if (count > MAX_UNWIND_MODULES) count = MAX_UNWIND_MODULES;
    struct module_search ms = {.modules = mods, .pc = lookup, .hi = count};
    bpf_loop(10, module_search_step, &ms, 0);
    if (ms.lo == 0 || ms.lo < ms.hi) return 0;
    u->module = ms.lo - 1;
    m = &mods->modules[u->module & (MAX_UNWIND_MODULES - 1)];
    if (lookup >= m->high) return 0;
  }
  if (m->rows == 0) return 0;
  __u64 rel = lookup - m->bias;
  __u64 page = rel >> (m->page_shift & 63);
  if (page < m->page_base) {
    u->status = NATIVE_STOPPED;
    return 0;
  }
  /* The rows of pc's page: from the one holding at its start to the one holding at the next page's. */
  __u32 k = page - m->page_base;
  __u32 lo = 0, hi = m->rows;
  if (k < m->pages) {
    __u32 key = m->first_page + k;
    __u32 *at = bpf_map_lookup_elem(&cfi_pages, &key);
    if (!at) return 0;
    lo = *at;
    if (k + 1 < m->pages) {
      key++;
      __u32 *next = bpf_map_lookup_elem(&cfi_pages, &key);
      if (!next) return 0;
      hi = *next + 1;
    }
  } else if (m->pages > 0) {
    __u32 key = m->first_page + m->pages - 1;
    __u32 *at = bpf_map_lookup_elem(&cfi_pages, &key);
    if (!at) return 0;
    lo = *at;
  }
  struct row_search rs = {.pc = rel, .first = m->first_row, .lo = lo, .hi = hi};
  bpf_loop(22, row_search_step, &rs, 0);
  if (rs.failed || rs.lo < rs.hi) return 0;
  if (rs.lo == 0) {
    u->status = NATIVE_STOPPED;
    return 0;
  }
  __u32 key = rs.first + rs.lo - 1;
  return bpf_map_lookup_elem(&cfi_rows, &key);
}

/* The step's outcome: 0 to go on, 1 with u->status set to stop. */
static __always_inline long native_outcome(struct native_unwind *u, int step) {
  switch (step) {
    case CFI_STEP_OK:
      return 0;
    case CFI_STEP_END:
      u->status = NATIVE_COMPLETE;
      return 1;
    case CFI_STEP_STOP:
      u->status = NATIVE_STOPPED;
      return 1;
    default:
      u->status = NATIVE_FALLBACK;
      return 1;
  }
}

/* Frame i: its pc is recorded and its row found (null: the unwind ends,
   u->status saying how). The depth comes from the index: see python-walk.h. */
static __always_inline const struct cfi_row *native_frame(struct native_unwind *u, __u64 i) {
  if (i >= MAX_NATIVE_DEPTH) {
    u->status = NATIVE_FALLBACK;
    return 0;
  }
  ((__u64 *)u->s->stack)[i] = u->r.pc;
  u->depth = i + 1;
  return native_row(u, i);
}

/* One step each for the current task's memory (perf events) and another
   task's (the wall-clock iterator). */
static long native_step_current(__u64 i, void *arg) {
  struct native_unwind *u = arg;
  const struct cfi_row *row = native_frame(u, i);
  return row ? native_outcome(u, cfi_step_current(u, row, &u->r)) : 1;
}

static long native_step_task(__u64 i, void *arg) {
  struct native_unwind *u = arg;
  const struct cfi_row *row = native_frame(u, i);
  return row ? native_outcome(u, cfi_step_task(u, row, &u->r)) : 1;
}

/* Unwinds s's user stack in the kernel into s->stack: the NATIVE_* it ends
   with, or NATIVE_FALLBACK when the stack must be copied instead. */
static __always_inline __u32 native_unwind(struct sample_record *s, struct task_struct *task, __u32 pid, int current) {
  s->stack_size = 0;
  if (!cfg.kernel_unwind) return NATIVE_FALLBACK;
  struct unwind_modules *mods = bpf_map_lookup_elem(&unwind_modules, &pid);
  if (!mods && pid != cfg.target_pid) {
    __u32 target = cfg.target_pid;
    mods = bpf_map_lookup_elem(&unwind_modules, &target);
  }
  if (!mods) return NATIVE_FALLBACK;
  struct native_unwind u = {
      .task = task,
      .modules = mods,
      .s = s,
      .r = {.pc = s->regs[16], .sp = s->regs[7], .bp = s->regs[6]},
      .status = NATIVE_FALLBACK,
  };
  ((__u64 *)&s->stack[WINDOW_STATE_AT])[1] = 0;
  bpf_loop(MAX_NATIVE_DEPTH + 1, current ? native_step_current : native_step_task, &u, 0);
  /* Falling back too: the frames found so far, for a short record (send_short). */
  s->stack_size = (u.depth & (2 * MAX_NATIVE_DEPTH - 1)) * 8;
  if (u.status == NATIVE_FALLBACK) return NATIVE_FALLBACK;
  s->native = u.status;
  s->red_zone_copied = 0;
  return u.status;
}

struct copy {
  struct task_struct *task;
  struct sample_record *s;
  __u64 sp;
  __u32 copied;
};

/* Copies the stack a chunk at a time: a read crossing the end of the
   stack's mapping fails whole, and the chunks before it are still good. */
static long copy_step(__u64 i, void *arg) {
  struct copy *cp = arg;
  if (i >= MAX_STACK_BYTES / STACK_CHUNK || i * STACK_CHUNK >= cfg.stack_bytes) return 1;
  if (bpf_probe_read_user(&cp->s->stack[i * STACK_CHUNK], STACK_CHUNK, (const void *)(cp->sp + i * STACK_CHUNK)) != 0) return 1;
  cp->copied = (i + 1) * STACK_CHUNK; /* from the index: see python-walk.h */
  return 0;
}

static long copy_step_task(__u64 i, void *arg) {
  struct copy *cp = arg;
  if (i >= MAX_STACK_BYTES / STACK_CHUNK || i * STACK_CHUNK >= cfg.stack_bytes) return 1;
  if (bpf_copy_from_user_task(&cp->s->stack[i * STACK_CHUNK], STACK_CHUNK, (const void *)(cp->sp + i * STACK_CHUNK), cp->task, 0) != 0) return 1;
  cp->copied = (i + 1) * STACK_CHUNK; /* from the index: see python-walk.h */
  return 0;
}

/* The user registers saved on entry to the kernel, in DWARF order. */
static __always_inline int user_regs(struct sample_record *s, struct task_struct *task) {
  struct pt_regs regs;
  if (bpf_probe_read_kernel(&regs, sizeof(regs), (void *)bpf_task_pt_regs(task)) != 0) return -1;
  s->regs[0] = regs.ax;
  s->regs[1] = regs.dx;
  s->regs[2] = regs.cx;
  s->regs[3] = regs.bx;
  s->regs[4] = regs.si;
  s->regs[5] = regs.di;
  s->regs[6] = regs.bp;
  s->regs[7] = regs.sp;
  s->regs[8] = regs.r8;
  s->regs[9] = regs.r9;
  s->regs[10] = regs.r10;
  s->regs[11] = regs.r11;
  s->regs[12] = regs.r12;
  s->regs[13] = regs.r13;
  s->regs[14] = regs.r14;
  s->regs[15] = regs.r15;
  s->regs[16] = regs.ip;
  return 0;
}

static __always_inline void send_sample(struct sample_record *s) {
  __u64 size = offsetof(struct sample_record, stack) + s->stack_size;
  if (size > sizeof(*s)) size = sizeof(*s);
  if (bpf_ringbuf_output(&records, s, size, 0) != 0) count_drop();
}

/* The unwound_record is put together in the sample's stack area, past the
   unwind's addresses and window (the scratch has no other room of its size). */
#define UNWOUND_AT 4096
_Static_assert(UNWOUND_AT >= WINDOW_AT + STACK_WINDOW + 8, "the record lies past the unwind's window");
_Static_assert(UNWOUND_AT + sizeof(struct unwound_record) <= MAX_STACK_BYTES, "the record fits the stack area");

/* s, whose stack holds the kernel's unwind, sent as an unwound_record of
   this kind (RECORD_UNWOUND, or RECORD_NATIVE_CHECK: checked, not counted). */
static __always_inline void send_compact(struct sample_record *s, __u32 kind) {
  struct unwound_record *u = (struct unwound_record *)&s->stack[UNWOUND_AT];
  __u32 user = s->stack_size / 8;
  if (user > MAX_NATIVE_DEPTH) user = MAX_NATIVE_DEPTH;
  __u32 kernel = s->kernel_depth;
  if (kernel > KERNEL_DEPTH) kernel = KERNEL_DEPTH;
  u->kind = kind;
  u->tid = s->tid;
  u->pid = s->pid;
  u->user_depth = user;
  u->kernel_depth = kernel;
  u->native = s->native;
  u->off_cpu = s->off_cpu;
  u->gil = s->gil;
  u->weight = s->weight;
  u->pad = 0;
  u->chain = s->chain;
  u->time_ns = s->time_ns;
  __builtin_memcpy(u->comm, s->comm, sizeof(u->comm));
  bpf_probe_read_kernel(u->frames, user * 8, s->stack);
  bpf_probe_read_kernel(&u->frames[user], kernel * 8, s->kernel);
  __u64 size = offsetof(struct unwound_record, frames) + (__u64)(user + kernel) * 8;
  if (bpf_ringbuf_output(&records, u, size, 0) != 0) count_drop();
}

/* The user stack unwound in the kernel and sent: true when done. Checking,
   the unwind is sent ahead of the copy that is still to be made. */
static __always_inline int send_unwound(struct sample_record *s, struct task_struct *task, __u32 pid, int current) {
  if (native_unwind(s, task, pid, current) == NATIVE_FALLBACK) return 0;
  send_compact(s, cfg.check_unwind ? RECORD_NATIVE_CHECK : RECORD_UNWOUND);
  return !cfg.check_unwind;
}

/* Whether the ring is over seven eighths full, so that a stack copy (8 KiB)
   is better not made: the last eighth holds a thousand short records or
   more (a second of them at 999 Hz on 2 CPUs, 250 ms at 9999 Hz), time for a
   late drain. Not when checking, where each unwind is held to its copy. */
static __always_inline int ring_pressed(void) {
  __u64 size = bpf_ringbuf_query(&records, BPF_RB_RING_SIZE);
  return !cfg.check_unwind && bpf_ringbuf_query(&records, BPF_RB_AVAIL_DATA) > size - size / 8;
}

/* s, whose stack the kernel could not unwind whole, sent with the frames it
   found (at least the leaf) instead of a copy: NATIVE_SHORT. */
static __always_inline void send_short(struct sample_record *s) {
  if (s->stack_size < 8) {
    ((__u64 *)s->stack)[0] = s->regs[16];
    s->stack_size = 8;
  }
  s->native = NATIVE_SHORT;
  send_compact(s, RECORD_UNWOUND);
}

/* The memory image sampling started on (set by the first sample). After an
   exec the process runs another program, whose memory must not be read as
   the old one's: the first sample that sees another image says so once and
   nothing more is sampled. */
__u64 target_mm = 0;
__u64 exec_sent = 0;

static __always_inline int same_image(struct task_struct *task, __u32 tid) {
  __u64 mm = (__u64)BPF_CORE_READ(task, mm);
  if (!mm) return 0;
  __u64 first = __sync_val_compare_and_swap(&target_mm, 0, mm);
  if (first == 0 || first == mm) return 1;
  if (__sync_val_compare_and_swap(&exec_sent, 0, 1) == 0) {
    struct repeat_record r = {.kind = RECORD_EXEC, .tid = tid};
    if (bpf_ringbuf_output(&records, &r, sizeof(r), 0) != 0) count_drop();
  }
  return 0;
}

/* A fork, exit or exec of a process, with when it happened. */
static __always_inline void send_process(__u32 kind, __u32 pid, __u32 parent) {
  struct process_record r = {.kind = kind, .pid = pid, .parent = parent, .time_ns = bpf_ktime_get_ns()};
  if (bpf_ringbuf_output(&records, &r, sizeof(r), 0) != 0) count_drop();
}

/* Stops following pid (it exec'd, or exited) and says so, once. */
static __always_inline void forget(__u32 pid, __u32 kind) {
  bpf_map_delete_elem(&forked_by, &pid);
  if (bpf_map_delete_elem(&followed, &pid) != 0) return;
  followed_changed();
  send_process(kind, pid, 0);
}

/* Whether pid is followed and task still runs the image it was forked with
   (one that exec'd since is no longer followed). */
static __always_inline int followed_image(struct task_struct *task, __u32 pid) {
  if (!cfg.follow) return 0;
  __u64 *mm = bpf_map_lookup_elem(&followed, &pid);
  if (!mm) return 0;
  /* 0: adopted by user space, already running (its image checked there): this is its image. */
  __u64 image = (__u64)task->mm;
  __u64 known = *mm ? *mm : __sync_val_compare_and_swap(mm, 0, image);
  if (known && known != image) {
    forget(pid, RECORD_CHILD_EXEC);
    return 0;
  }
  return 1;
}

/* A process forked by the target or by a process followed from it: sampled
   from here on (a new thread of one is sampled already: same pid). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child) {
  __u32 parent_pid = parent->tgid;
  __u32 pid = child->tgid;
  if (!cfg.follow || pid == parent_pid) return 0;
  if (parent_pid != cfg.target_pid && !bpf_map_lookup_elem(&followed, &parent_pid)) return 0;
  __u64 mm = (__u64)child->mm;
  if (!mm || bpf_map_update_elem(&followed, &pid, &mm, BPF_NOEXIST) != 0) return 0;
  followed_changed();
  __u32 forker = parent->pid;
  bpf_map_update_elem(&forked_by, &pid, &forker, BPF_ANY);
  send_process(RECORD_FORK, pid, parent_pid);
  return 0;
}

/* A thread of the target, or of a process followed from it, exits; the
   last one ends the process. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task) {
  __u32 pid = task->tgid;
  if (pid != cfg.target_pid && !cfg.follow) return 0;
  if (BPF_CORE_READ(task, signal, live.counter) != 0) {
    if (pid == cfg.target_pid || bpf_map_lookup_elem(&followed, &pid)) send_process(RECORD_THREAD_EXIT, pid, task->pid);
    return 0;
  }
  if (pid == cfg.target_pid) {
    /* The moment the target ended: the end of the span its samples cover
       (user space notices only at its next look). */
    send_process(RECORD_EXIT, pid, 0);
    return 0;
  }
  forget(pid, RECORD_EXIT);
  return 0;
}

/* A followed process that exec'd another program. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task) {
  if (!cfg.follow) return 0;
  forget(task->tgid, RECORD_CHILD_EXEC);
  return 0;
}

SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 pid = (__u32)(id >> 32);
  __u32 tid = (__u32)id;
  struct task_struct *task = bpf_get_current_task_btf();
  if (pid == cfg.target_pid ? !same_image(task, tid) : !followed_image(task, pid)) return 0;
  __u32 cpu = bpf_get_smp_processor_id();
  struct sample_record *s = bpf_map_lookup_elem(&sample_scratch, &cpu);
  if (!s) return 0;

  s->kind = RECORD_SAMPLE;
  s->time_ns = bpf_ktime_get_ns();
  s->tid = tid;
  s->pid = pid;
  s->off_cpu = ON_CPU;
  s->weight = 1;
  __u64 ts = cfg.python ? thread_state_current(tid, task) : 0;
  s->chain = python_chain_current(ts, task, pid);
  s->gil = cfg.walk.gil ? gil_state_current(ts, task) : GIL_NOT_READ;
  bpf_get_current_comm(s->comm, sizeof(s->comm));
  /* Whichever mode the tick hit. */
  if (user_regs(s, task) != 0) return 0;

  long kbytes = bpf_get_stack(ctx, s->kernel, sizeof(s->kernel), 0);
  s->kernel_depth = kbytes > 0 ? (__u64)kbytes / 8 : 0;
  if (send_unwound(s, task, pid, 1)) return 0;
  if (ring_pressed()) {
    send_short(s);
    return 0;
  }

  s->native = NATIVE_COPIED;
  s->red_zone_copied = bpf_probe_read_user(s->red_zone, RED_ZONE_BYTES, (const void *)(s->regs[7] - RED_ZONE_BYTES)) == 0;
  struct copy cp = {.s = s, .sp = s->regs[7]};
  bpf_loop(MAX_STACK_BYTES / STACK_CHUNK, copy_step, &cp, 0);
  s->stack_size = cp.copied;
  send_sample(s);
  return 0;
}

/*
 * Wall-clock mode: run by mixprof hz times a second over the threads of the
 * target and of each process followed from it (a link per process, limited
 * to its PID, made by the pass after its fork); each pass counts every
 * thread once (times the pass's weight), so a thread's samples are hz times
 * its life. A thread on a CPU is counted at the stack of its latest clock
 * sample (a running record); one off CPU (sleeping, blocked, or runnable and
 * waiting for a CPU) is sampled here, with its kernel stack, its registers as
 * saved on entry to the kernel and its stack read through its own memory. A
 * thread that has not run since its last sample and waits the same way is
 * still where it was: a repeat record counts that sample again without
 * walking anything (its GIL state too: taking or dropping the GIL takes
 * running).
 */
SEC("iter.s/task")
int wall_tick(struct bpf_iter__task *ctx) {
  struct task_struct *task = ctx->task;
  if (!task) return 0;
  __u32 pid = task->tgid;
  if (pid != cfg.target_pid && !followed_image(task, pid)) return 0;
  if (task->flags & 0x4 /* PF_EXITING */) return 0;
  __u32 zero = 0;
  __u32 *pass = bpf_map_lookup_elem(&wall_pass, &zero);
  __u32 weight = pass && *pass ? *pass : 1;
  __u32 tid = task->pid;
  /* On a CPU: counted at its latest clock sample (the clock keeps finding
     where it runs; reading a running thread's registers here is not safe). */
  int running = task->on_cpu;
  /* Runnable on the CPU this pass runs on, and put back in its queue at the
     very switch that brought mixprof's ticker on (the scheduler stamps both
     with one clock reading): the ticker displaced it just now, and it would
     otherwise be running: counted as running. One waiting there behind
     another task (a busy machine) is waiting for a CPU and is sampled here.
     Without the kernel's sched_info stamps (zero) such a thread counts as running. */
  if (!running && task->__state == 0 /* TASK_RUNNING */ && task->thread_info.cpu == bpf_get_smp_processor_id()) {
    __u64 queued = task->sched_info.last_queued;
    __u64 ticker_arrived = bpf_get_current_task_btf()->sched_info.last_arrival;
    __u64 apart = queued > ticker_arrived ? queued - ticker_arrived : ticker_arrived - queued;
    running = queued == 0 || ticker_arrived == 0 || apart < 50000 /* ns */;
  }
  if (running) {
    struct repeat_record r = {.kind = RECORD_RUNNING, .tid = tid, .weight = weight, .time_ns = bpf_ktime_get_ns()};
    if (bpf_ringbuf_output(&records, &r, sizeof(r), 0) != 0) count_drop();
    return 0;
  }
  if (pid == cfg.target_pid && !same_image(task, tid)) return 0;
  __u32 state = task->__state == 0 ? OFF_CPU_RUNNABLE : OFF_CPU_WAITING;
  /* Where it was last sampled, and waiting the same way (a sleeper woken since waits for a CPU). */
  __u64 switches = ((task->nvcsw + task->nivcsw) << 2) | state;
  __u64 *last = bpf_map_lookup_elem(&wall_switches, &tid);
  if (last && *last == switches) {
    struct repeat_record r = {.kind = RECORD_REPEAT, .tid = tid, .weight = weight, .time_ns = bpf_ktime_get_ns()};
    if (bpf_ringbuf_output(&records, &r, sizeof(r), 0) != 0) count_drop();
    return 0;
  }
  struct sample_record *s = bpf_map_lookup_elem(&wall_scratch, &zero);
  if (!s) return 0;
  s->kind = RECORD_SAMPLE;
  s->time_ns = bpf_ktime_get_ns();
  s->tid = tid;
  s->pid = pid;
  s->off_cpu = state;
  s->weight = weight;
  __u64 ts = cfg.python ? thread_state_task(tid, task) : 0;
  s->chain = python_chain_task(ts, task, pid);
  /* A thread off CPU that holds the GIL (blocked in a call that kept it) keeps everyone else waiting. */
  s->gil = cfg.walk.gil ? gil_state_task(ts, task) : GIL_NOT_READ;
  bpf_probe_read_kernel_str(s->comm, sizeof(s->comm), task->comm);
  if (user_regs(s, task) != 0) return 0;
  long kbytes = bpf_get_task_stack(task, s->kernel, sizeof(s->kernel), 0);
  s->kernel_depth = kbytes > 0 ? (__u64)kbytes / 8 : 0;
  if (send_unwound(s, task, pid, 0)) {
    bpf_map_update_elem(&wall_switches, &tid, &switches, BPF_ANY);
    return 0;
  }
  if (ring_pressed()) {
    send_short(s);
    bpf_map_update_elem(&wall_switches, &tid, &switches, BPF_ANY);
    return 0;
  }
  s->native = NATIVE_COPIED;
  s->red_zone_copied = bpf_copy_from_user_task(s->red_zone, RED_ZONE_BYTES, (const void *)(s->regs[7] - RED_ZONE_BYTES), task, 0) == 0;
  struct copy cp = {.task = task, .s = s, .sp = s->regs[7]};
  bpf_loop(MAX_STACK_BYTES / STACK_CHUNK, copy_step_task, &cp, 0);
  s->stack_size = cp.copied;
  send_sample(s);
  bpf_map_update_elem(&wall_switches, &tid, &switches, BPF_ANY);
  return 0;
}

/*
 * What bpf/dwarf-sampler.bpf.c and the addon (native/src/dwarf_sampler.cc)
 * share: the configuration the addon writes before loading, and the records
 * the program sends through its ring buffer.
 */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MAX_PYTHON_DEPTH 256
#define KERNEL_DEPTH 64
#define STACK_CHUNK 1024
#define MAX_STACK_BYTES 65536
/* The x86-64 red zone below the stack pointer, copied too: at the `ret` of a
   function that kept a frame pointer, its CFI still finds the caller's rbp in
   the slot just popped, below the stack pointer. */
#define RED_ZONE_BYTES 128
#define RECORD_CHAIN 1
#define RECORD_SAMPLE 2
/* An off-CPU thread that has not run since its last sample: count that one again. */
#define RECORD_REPEAT 3
/* The target exec'd another program: sampling it ends (sent once). */
#define RECORD_EXEC 4
/* Wall-clock mode: a thread on a CPU at a pass of the iterator, counted at
   the stack its latest clock sample found. */
#define RECORD_RUNNING 8
/* sample_record.off_cpu: taken by the CPU clock, or off CPU by the iterator
   while the thread waited (sleep, I/O, a lock) or, runnable, for a CPU. */
#define ON_CPU 0
#define OFF_CPU_WAITING 1
#define OFF_CPU_RUNNABLE 2
/* A followed process (fork-following): forked from a target, exited, or
   exec'd another program (then no longer sampled): a process_record. */
#define RECORD_FORK 5
#define RECORD_EXIT 6
#define RECORD_CHILD_EXEC 7
/* A thread of the target or of a followed process exits, not its last
   (a process_record: parent holds the thread's id): user space lets go of
   what it kept for the thread, which would grow with a thread pool's churn. */
#define RECORD_THREAD_EXIT 11
/* Processes followed at once, besides the target. */
#define MAX_FOLLOWED 8192
/* The sampled thread and the GIL (--gil), as bpf/python-sampler.bt numbers them too. */
#define GIL_NOT_READ 0
#define GIL_HELD 1
/* The thread has a Python thread state but is not the GIL's holder. */
#define GIL_RELEASED 2
/* No PyThreadState names the thread: it never takes the GIL. */
#define GIL_NO_THREAD 3
/* Registers in DWARF order for x86-64: rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip. */
#define DWARF_REGS 17

/* Unwinding in the kernel, with the rows the addon compiles (bpf/cfi-unwind.h)
   and loads into cfi_rows, and each process's modules in unwind_modules. A
   stack it cannot unwind whole (a module without rows, code in no module, a
   rule the rows do not hold, more than MAX_NATIVE_DEPTH frames) is copied
   and unwound in user space as before. */
#define MAX_NATIVE_DEPTH 128
#define MAX_UNWIND_MODULES 128
/* Rows at most: 16 MiB of kernel memory, 100-150 thousand for a Python process
   with libc (a whole node binary is 370 thousand). */
#define MAX_CFI_ROWS (1 << 20)
/* sample_record.native: how its user stack came. */
#define NATIVE_COPIED 0   /* stack holds the copy from the stack pointer up */
#define NATIVE_STOPPED 1  /* stack holds the return addresses, leaf first: the unwind stopped (no row, a word unread) */
#define NATIVE_COMPLETE 2 /* the same, ended at the outermost frame */
/* The kernel's unwind as far as it went (at least the leaf), sent instead of
   a copy it could not do without while the ring was over 7/8 full (drains
   late on a busy machine, or the first moments before the rows are loaded):
   a copy then could crowd out the samples after it, which would be lost. */
#define NATIVE_SHORT 4
/* cfg.check_unwind: the kernel's unwind of a sample, sent just before its
   copy (an unwound_record of this kind) for user space to compare with
   libdwfl's. */
#define RECORD_NATIVE_CHECK 9

/* Pages of a module's code: for the link-time page at page_base + k pages,
   cfi_pages[first_page + k] is the index (within the module's rows) of the
   row holding at the page's start, so that a lookup searches one page's
   rows, not the module's. A module's pages are as small as keeps them at
   most half its rows (2-4 rows a page, a step or two of search; each step
   is a bpf_loop() call; 4 KiB pages took 6-8), from 16 bytes up, larger
   where the index is nearly full. */
#define CFI_MIN_PAGE_SHIFT 4
#define CFI_MAX_PAGE_SHIFT 24
#define MAX_CFI_PAGES (1 << 19)

/* Where one module lies in a process and its rows: a pc in [low, high) is
   looked up at pc - bias among rows[first_row, first_row + rows). */
struct unwind_module {
  __u64 low;
  __u64 high;
  __u64 bias;
  __u32 first_row;
  __u32 rows;
  /* The link-time page of the first row (pc >> page_shift), and the module's pages in cfi_pages. */
  __u64 page_base;
  __u32 first_page;
  __u32 pages;
  __u32 page_shift;
  __u32 pad;
};

/* A process's modules with rows, sorted by low. */
struct unwind_modules {
  __u32 count;
  __u32 pad;
  struct unwind_module modules[MAX_UNWIND_MODULES];
};

/* The Python walk's offsets and limits: the fields, order and types of
   WALK_FIELDS in src/bpf/walk-fields.ts, which packs them from the same
   PythonLayout that fills the bpftrace template (a test compares the two). */
struct walk_config {
  __u32 max_depth;
  __u32 max_threads;
  __u32 thread_key_is_fsbase;
  __u32 frame_via_cframe;
  __u32 hash_code;
  __u32 gil;
  __u32 gil_via_interp;
  __u64 runtime_addr;
  __u64 rt_interp_head;
  __u64 is_threads_head;
  __u64 ts_prev;
  __u64 ts_next;
  __u64 ts_thread_key;
  __u64 ts_frame;
  __u64 cframe_current;
  __u64 fr_code;
  __u64 code_mask;
  __u64 fr_instr;
  __u64 instr_mask;
  __u64 fr_previous;
  __u64 fr_flags;
  __u64 co_firstlineno;
  __u64 gil_offset;
  __u64 gil_locked;
  __u64 gil_last_holder;
};

struct sampler_config {
  __u32 target_pid;
  __u32 stack_bytes;
  /* walk holds a Python walk's configuration. */
  __u32 python;
  /* Also sample the processes the target forks (and theirs), from their
     first instruction: they share its layout and, until they change them,
     its mappings and code objects. */
  __u32 follow;
  /* Unwind user stacks in the kernel where the rows allow (else copy them). */
  __u32 kernel_unwind;
  /* Send the kernel's unwind and the copy both (RECORD_NATIVE_CHECK). */
  __u32 check_unwind;
  struct walk_config walk;
};

/* RECORD_FORK, RECORD_EXIT, RECORD_CHILD_EXEC: pid is the followed process,
   parent (forks) the process it was forked from; time is CLOCK_MONOTONIC. */
struct process_record {
  __u32 kind;
  __u32 pid;
  __u32 parent;
  __u32 pad;
  __u64 time_ns;
};

/* A thread that still sleeps where it was last sampled, or one on a CPU
   (RECORD_RUNNING; wall-clock mode), or (kind RECORD_EXEC) the thread that
   found the process exec'd. weight: the clock periods the pass stands for. */
struct repeat_record {
  __u32 kind;
  __u32 tid;
  __u32 weight;
  __u32 pad;
  /* The pass (CLOCK_MONOTONIC): when the thread was found so. */
  __u64 time_ns;
};

struct python_frame {
  __u64 code;
  __u64 instr;
  __u64 flags;
  __u64 first_line;
};

/* The Python frames of a chain, sent the first time the chain is seen. */
struct chain_record {
  __u32 kind;
  __u32 depth;
  __u32 truncated;
  /* The process whose frames these are (its code objects are read there). */
  __u32 pid;
  __u64 hash;
  struct python_frame frames[MAX_PYTHON_DEPTH];
};

/* A sample whose user stack the kernel unwound: its header, then its
   user_depth return addresses (leaf first) and its kernel_depth kernel
   frames in one array, sent sized to them. A sample_record keeps room for a
   whole kernel stack, the registers and the red zone, which user space then
   has no use for: three times the bytes, and the ring's size follows them. */
#define RECORD_UNWOUND 10
struct unwound_record {
  __u32 kind;
  __u32 tid;
  __u32 pid;
  __u32 user_depth;
  __u32 kernel_depth;
  /* NATIVE_STOPPED, NATIVE_COMPLETE or NATIVE_SHORT. */
  __u32 native;
  /* As in sample_record. */
  __u32 off_cpu;
  __u32 gil;
  __u32 weight;
  __u32 pad;
  __u64 chain;
  /* As in sample_record. */
  __u64 time_ns;
  char comm[16];
  __u64 frames[MAX_NATIVE_DEPTH + KERNEL_DEPTH];
};

/* One sample; only the first stack_size bytes of stack are sent. */
struct sample_record {
  __u32 kind;
  __u32 tid;
  __u32 kernel_depth;
  __u32 stack_size;
  /* ON_CPU (by the CPU clock), or OFF_CPU_* (wall-clock mode's iterator). */
  __u32 off_cpu;
  /* GIL_*: whether the thread held the GIL at the sample. */
  __u32 gil;
  /* red_zone holds the RED_ZONE_BYTES below the stack pointer (1), or nothing (0: unmapped). */
  __u32 red_zone_copied;
  /* The process (thread group): the target or a process followed from it. */
  __u32 pid;
  /* The iterator's samples: the clock periods the pass stands for (1 unless passes were late). */
  __u32 weight;
  /* NATIVE_*: a copy of the stack, or the kernel's unwind of it (stack_size / 8 addresses). */
  __u32 native;
  __u64 chain;
  /* When it was taken (CLOCK_MONOTONIC): a timeline (--timeline) places it by this. */
  __u64 time_ns;
  __u64 regs[DWARF_REGS];
  char comm[16];
  __u64 kernel[KERNEL_DEPTH];
  /* Directly followed by stack: together one copy from sp - RED_ZONE_BYTES. */
  __u8 red_zone[RED_ZONE_BYTES];
  __u8 stack[MAX_STACK_BYTES];
};

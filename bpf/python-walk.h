/*
 * The Python walk, written once. bpf/dwarf-sampler.bpf.c makes it twice
 * (reading the current task's memory in perf events, another task's in the
 * wall-clock iterator) and the addon once more in user space over a memory
 * image (native/src/walk_image.c), which the tests hold to the TypeScript
 * reference walk (src/python/walk.ts) without root.
 *
 * The includer provides __u32/__u64, __always_inline, bpf_loop(), the
 * records of dwarf-sampler.h, WALK_TASK (the type a walk's state reads
 * through: struct task_struct in BPF) and a `cfg` whose .walk is the
 * struct walk_config. DEFINE_PYTHON_WALK_CORE(SUFFIX, READ, READ32, READ_BLOCK) then
 * defines, for one way of reading (READ(state, addr): 8 bytes, READ32: 4,
 * 0 where unreadable; READ_BLOCK(state, addr, buf, size): size bytes into buf,
 * 0 where not all are readable):
 *   search_threads_SUFFIX(search, key)  the thread state carrying key
 *   hash_chain_SUFFIX(walk, ts)         hashes ts's chain into walk (depth,
 *                                       hash, f: the frame past the last)
 *                                       and returns its innermost frame
 *   fill_chain_SUFFIX(task, frame, depth, record)  the chain's frames
 *
 * Loops run through bpf_loop(): the verifier checks each body once instead
 * of every iteration of every path. A body counts from its index, never up
 * (depth = i + 1, not depth++): a count the verifier knows exactly makes
 * each pass a new state, and it then checked the walk once per frame (66,000
 * instructions and 94 ms of loading, against 2,400 and 4 ms).
 */
#pragma once

/* FNV-1a over 64-bit words: a chain's hash starts here (a followed process's mixes in its pid and start time). */
#define CHAIN_HASH_SEED 14695981039346656037ULL
#define CHAIN_HASH_PRIME 1099511628211ULL

struct thread_search {
  WALK_TASK *task;
  __u64 key;
  __u64 t;
  __u64 found;
};

struct walk {
  WALK_TASK *task;
  __u64 f;
  __u64 hash;
  __u32 depth;
  /* A frame's code, instruction and previous frame lie within FRAME_BLOCK_WORDS words from
     block_at (every layout so far): one read a frame, not three. Their word indices in it. */
  __u32 block;
  __u64 block_at;
  __u32 i_code;
  __u32 i_instr;
  __u32 i_previous;
};

#define FRAME_BLOCK_WORDS 16

struct fill {
  WALK_TASK *task;
  __u64 f;
  struct chain_record *c;
};

#define DEFINE_PYTHON_WALK_CORE(SUFFIX, READ, READ32, READ_BLOCK)                                                   \
  static long thread_step_##SUFFIX(__u64 i, void *arg) {                                                  \
    struct thread_search *ts = arg;                                                                       \
    if (!ts->t) return 1;                                                                                 \
    /* The last match, the oldest: before 3.12 a thread state made for a new thread carries its creator's \
       key until that thread starts, and new ones go to the head of the list. */                          \
    if (READ(ts, ts->t + cfg.walk.ts_thread_key) == ts->key) ts->found = ts->t;                           \
    ts->t = READ(ts, ts->t + cfg.walk.ts_next);                                                                \
    return 0;                                                                                             \
  }                                                                                                       \
                                                                                                          \
  /* The interpreter's first thread state: read only where the cache does not answer. */                \
  static __always_inline __u64 threads_head_##SUFFIX(struct thread_search *search) {                     \
    __u64 interp = READ(search, cfg.walk.runtime_addr + cfg.walk.rt_interp_head);                         \
    return interp ? READ(search, interp + cfg.walk.is_threads_head) : 0;                                  \
  }                                                                                                       \
                                                                                                          \
  /* The thread state carrying key, searched for from the list's head; 0 when none does. */               \
  static __always_inline __u64 search_threads_##SUFFIX(struct thread_search *search, __u64 key) {        \
    search->key = key;                                                                                    \
    search->found = 0;                                                                                    \
    search->t = threads_head_##SUFFIX(search);                                                            \
    bpf_loop(cfg.walk.max_threads, thread_step_##SUFFIX, search, 0);                                      \
    return search->found;                                                                                 \
  }                                                                                                       \
                                                                                                          \
  /* Whether a frame's code, instruction and previous frame can be read as one block: word-aligned,      \
     within FRAME_BLOCK_WORDS words of the first of them. */                                              \
  static __always_inline void frame_block_##SUFFIX(struct walk *w) {                                     \
    __u64 c = cfg.walk.fr_code, n = cfg.walk.fr_instr, p = cfg.walk.fr_previous;                          \
    __u64 lo = c < n ? c : n;                                                                             \
    lo = lo < p ? lo : p;                                                                                 \
    __u64 hi = c > n ? c : n;                                                                             \
    hi = hi > p ? hi : p;                                                                                 \
    w->block = hi + 8 - lo <= FRAME_BLOCK_WORDS * 8 && ((c - lo) & 7) == 0 && ((n - lo) & 7) == 0 &&       \
               ((p - lo) & 7) == 0;                                                                       \
    w->block_at = lo;                                                                                     \
    w->i_code = (c - lo) >> 3;                                                                            \
    w->i_instr = (n - lo) >> 3;                                                                           \
    w->i_previous = (p - lo) >> 3;                                                                        \
  }                                                                                                       \
                                                                                                          \
  static long hash_step_##SUFFIX(__u64 i, void *arg) {                                                    \
    struct walk *w = arg;                                                                                 \
    if (!w->f) return 1;                                                                                  \
    __u64 code, instr, previous;                                                                          \
    __u64 words[FRAME_BLOCK_WORDS];                                                                       \
    if (w->block && READ_BLOCK(w, w->f + w->block_at, words, sizeof(words))) {                            \
      code = words[w->i_code & (FRAME_BLOCK_WORDS - 1)];                                                  \
      instr = words[w->i_instr & (FRAME_BLOCK_WORDS - 1)];                                                \
      previous = words[w->i_previous & (FRAME_BLOCK_WORDS - 1)];                                          \
    } else {                                                                                              \
      /* The block crosses the end of readable memory: field by field. */                                 \
      code = cfg.walk.hash_code ? READ(w, w->f + cfg.walk.fr_code) : 0;                                   \
      instr = READ(w, w->f + cfg.walk.fr_instr);                                                          \
      previous = READ(w, w->f + cfg.walk.fr_previous);                                                    \
    }                                                                                                     \
    if (cfg.walk.hash_code) w->hash = (w->hash ^ (code & cfg.walk.code_mask)) * CHAIN_HASH_PRIME;         \
    w->hash = (w->hash ^ (instr & cfg.walk.instr_mask)) * CHAIN_HASH_PRIME;                               \
    w->f = previous;                                                                                      \
    w->depth = i + 1; /* from the index, not counted up: see the top */                                    \
    return 0;                                                                                             \
  }                                                                                                       \
                                                                                                          \
  static long fill_step_##SUFFIX(__u64 i, void *arg) {                                                    \
    struct fill *fl = arg;                                                                                \
    if (!fl->f || i >= MAX_PYTHON_DEPTH) return 1;                                                        \
    struct python_frame *out = &fl->c->frames[i];                                                         \
    __u64 code = READ(fl, fl->f + cfg.walk.fr_code) & cfg.walk.code_mask;                                           \
    out->code = code;                                                                                     \
    out->instr = READ(fl, fl->f + cfg.walk.fr_instr) & cfg.walk.instr_mask;                                         \
    out->flags = READ(fl, fl->f + cfg.walk.fr_flags);                                                          \
    out->first_line = READ32(fl, code + cfg.walk.co_firstlineno);                                              \
    fl->f = READ(fl, fl->f + cfg.walk.fr_previous);                                                            \
    return 0;                                                                                             \
  }                                                                                                       \
                                                                                                          \
  /* The thread's innermost frame (through its cframe before 3.12). */                                    \
  static __always_inline __u64 chain_start_##SUFFIX(struct walk *w, __u64 ts) {                           \
    __u64 frame = READ(w, ts + cfg.walk.ts_frame);                                                        \
    if (cfg.walk.frame_via_cframe && frame) frame = READ(w, frame + cfg.walk.cframe_current);             \
    return frame;                                                                                         \
  }                                                                                                       \
                                                                                                          \
  static __always_inline __u64 hash_chain_##SUFFIX(struct walk *w, __u64 ts) {                            \
    __u64 frame = chain_start_##SUFFIX(w, ts);                                                            \
    w->f = frame;                                                                                         \
    frame_block_##SUFFIX(w);                                                                              \
    __u32 limit = cfg.walk.max_depth < MAX_PYTHON_DEPTH ? cfg.walk.max_depth : MAX_PYTHON_DEPTH;          \
    bpf_loop(limit, hash_step_##SUFFIX, w, 0);                                                            \
    return frame;                                                                                         \
  }                                                                                                       \
                                                                                                          \
  static __always_inline void fill_chain_##SUFFIX(WALK_TASK *task, __u64 frame, __u32 depth, struct chain_record *c) { \
    struct fill fl = {.task = task, .f = frame, .c = c};                                                  \
    bpf_loop(depth, fill_step_##SUFFIX, &fl, 0);                                                          \
  }

/*
 * The Python walk of bpf/python-walk.h built for user space, over a memory
 * image instead of a process: the same code the DWARF sampler runs in the
 * kernel, so that tests can hold it to the TypeScript reference walk
 * (src/python/walk.ts) without root or BPF.
 */
#include "walk_image.h"

#include <string.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define WALK_TASK const struct memory_image

/* bpf_loop() as the kernel runs it: fn(i, ctx) for i from 0 until it returns
   non-zero or n calls were made; the number of calls. */
static long bpf_loop(__u32 n, long (*fn)(__u64, void *), void *ctx, __u64 flags) {
  (void)flags;
  __u32 i = 0;
  while (i < n) {
    long stop = fn(i, ctx);
    i++;
    if (stop) break;
  }
  return i;
}

/* The configuration the walk reads, as the BPF program's cfg.walk; set per call. */
static struct {
  struct walk_config walk;
} cfg;

static int image_read(const struct memory_image *m, __u64 addr, void *out, size_t size) {
  for (size_t i = 0; i < m->count; i++) {
    const struct image_region *r = &m->regions[i];
    if (addr >= r->address && addr - r->address <= r->size && r->size - (addr - r->address) >= size) {
      memcpy(out, r->bytes + (addr - r->address), size);
      return 1;
    }
  }
  return 0;
}

static __u64 image_u64(const struct memory_image *m, __u64 addr) {
  __u64 v = 0;
  return image_read(m, addr, &v, sizeof v) ? v : 0;
}

static __u64 image_u32(const struct memory_image *m, __u64 addr) {
  __u32 v = 0;
  return image_read(m, addr, &v, sizeof v) ? v : 0;
}

#define READ_IMAGE(state, addr) image_u64((state)->task, addr)
#define READ32_IMAGE(state, addr) image_u32((state)->task, addr)
#define READ_BLOCK_IMAGE(state, addr, buf, size) image_read((state)->task, addr, buf, size)

#include "../../bpf/python-walk.h"

DEFINE_PYTHON_WALK_CORE(image, READ_IMAGE, READ32_IMAGE, READ_BLOCK_IMAGE)

__u64 mixprof_walk_image(const struct walk_config *config, const struct memory_image *image, __u64 key,
                         __u64 seed, struct chain_record *out) {
  cfg.walk = *config;
  memset(out, 0, sizeof *out);
  struct thread_search search = {.task = image};
  __u64 ts = search_threads_image(&search, key);
  if (!ts) return 0;
  struct walk w = {.task = image, .hash = seed};
  __u64 frame = hash_chain_image(&w, ts);
  if (w.depth == 0) return ts;
  out->depth = w.depth;
  out->truncated = w.f != 0;
  out->hash = w.hash;
  fill_chain_image(image, frame, w.depth, out);
  return ts;
}

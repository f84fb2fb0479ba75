// The Python walk of bpf/python-walk.h over a memory image (walk_image.c),
// callable from the addon's C++.
#pragma once

#include <linux/types.h>
#include <stddef.h>

#include "../../bpf/dwarf-sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

struct image_region {
  __u64 address;
  size_t size;
  const unsigned char* bytes;
};

struct memory_image {
  const struct image_region* regions;
  size_t count;
};

// Finds the thread state whose key is key and walks its chain into out (depth
// 0: it runs no frame), hashed from seed. The thread state, or 0 when none
// carries the key.
__u64 mixprof_walk_image(const struct walk_config* config, const struct memory_image* image, __u64 key,
                         __u64 seed, struct chain_record* out);

#ifdef __cplusplus
}
#endif

// Where a function's split-off parts lie. GCC moves a function's rarely run
// blocks into a separate `NAME.cold` part; a stripped binary names neither
// it nor its range, but .eh_frame still describes it, and the function's
// body jumps into it.
#pragma once

#include <libelf.h>
#include <napi.h>

#include <cstdint>
#include <vector>

namespace mixprof {

struct AddressRange {
  uint64_t start;
  uint64_t end;
};

// The first address of every function range .eh_frame describes (link-time
// addresses), sorted, from .eh_frame_hdr's search table; empty without one.
std::vector<uint64_t> FdeStarts(Elf* elf);

// The .eh_frame ranges, other than the function's own, that its body at
// link-time address [start, start + size) jumps into at an inner address:
// its split-off parts. Tail calls (jumps to a range's first byte) do not
// count; a range needs several jumps, so stray byte patterns do not pass.
std::vector<AddressRange> FunctionParts(Elf* elf, uint64_t start,
                                        uint64_t size);

// functionParts(path, start: bigint, size: number): [{start, end}] (bigints).
Napi::Value FunctionPartsOf(const Napi::CallbackInfo& info);

}  // namespace mixprof

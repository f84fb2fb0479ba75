// A module's .eh_frame compiled into compact unwind rows (bpf/cfi-unwind.h):
// for every address it describes, how to find the caller's frame from the
// stack pointer or %rbp. What the table unwinder steps with, instead of
// interpreting the CFI program at every frame of every sample.
#pragma once

#include <elfutils/libdwfl.h>
#include <linux/types.h>
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "../../bpf/cfi-unwind.h"

namespace mixprof {

// x86-64 registers by their DWARF numbers.
constexpr int kDwarfRbp = 6;
constexpr int kDwarfSp = 7;
constexpr int kDwarfIp = 16;

class CfiTable {
 public:
  // The module's .eh_frame, at link-time addresses (runtime address minus
  // the module's bias); empty when it has none or no .eh_frame_hdr to find
  // its ranges by.
  static CfiTable Compile(Dwfl_Module* module);

  // The row holding for a link-time address; null outside every range.
  const cfi_row* Find(uint64_t pc) const;

  bool empty() const { return rows_.empty(); }
  const std::vector<cfi_row>& rows() const { return rows_; }

  // Holds each row to the CFI it came from: at the first, a middle and the
  // last address of its range, the rule libdw gives there must be the row's
  // (no rule where the row is a gap). Returns the addresses where not.
  std::vector<uint64_t> Check(Dwfl_Module* module) const;

 private:
  std::vector<cfi_row> rows_;
};

// cfiRows(path): the rows compiled from an ELF file's .eh_frame, and the
// addresses where Check() found a row that is not the CFI's rule (tests).
Napi::Value CfiRowsOf(const Napi::CallbackInfo& info);

}  // namespace mixprof

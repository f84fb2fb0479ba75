// Unwinds one sampled user stack with libdwfl's CFI unwinder (.eh_frame and
// .debug_frame of the modules a Symbolizer reported), from the registers and
// the copy of the stack top taken at sample time; words beyond the copy are
// read from the live process.
#pragma once

#include <elfutils/libdwfl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mixprof {

// x86-64 registers in DWARF order: rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip.
constexpr int kDwarfRegs = 17;
constexpr int kDwarfSp = 7;
constexpr int kDwarfIp = 16;

struct StackSnapshot {
  uint64_t regs[kDwarfRegs];
  const uint8_t* stack;  // copied from stack_addr upwards
  uint64_t stack_addr;   // regs[kDwarfSp], or below it where the red zone was copied
  size_t stack_size;
  // The process whose live memory holds the words beyond the copy (0: the unwinder's own).
  pid_t pid = 0;
};

class Unwinder {
 public:
  // The Dwfl stays owned by its Symbolizer, which owns this unwinder too.
  Unwinder(Dwfl* dwfl, pid_t pid);

  // Return addresses, leaf first (the leaf is the exact instruction pointer),
  // as a frame-pointer unwind of the kernel reports them. Stops at max_frames.
  // True when the unwind ended at an outermost frame (one whose CFI says it
  // has no caller: _start, clone3), that is, the stack is complete.
  bool Unwind(pid_t tid, const StackSnapshot& snapshot, size_t max_frames,
              std::vector<uint64_t>* pcs);

  // The last Unwind read words beyond the copy from the live process. Where
  // such an unwind stopped says little about the code there: by then the
  // process may have moved on (those words hold something else) or ended.
  bool beyond_copy() const { return beyond_copy_; }

 private:
  bool Attach();
  bool Read(Dwarf_Addr addr, Dwarf_Word* result);

  static pid_t NextThread(Dwfl* dwfl, void* dwfl_arg, void** thread_argp);
  static bool GetThread(Dwfl* dwfl, pid_t tid, void* dwfl_arg,
                        void** thread_argp);
  static bool MemoryRead(Dwfl* dwfl, Dwarf_Addr addr, Dwarf_Word* result,
                         void* dwfl_arg);
  static bool SetInitialRegisters(Dwfl_Thread* thread, void* thread_arg);
  static int OnFrame(Dwfl_Frame* frame, void* arg);

  Dwfl* dwfl_;
  pid_t pid_;
  bool attached_ = false;
  Dwfl_Thread_Callbacks callbacks_{};
  // The unwind in progress.
  const StackSnapshot* current_ = nullptr;
  bool beyond_copy_ = false;
  std::vector<uint64_t>* out_ = nullptr;
  size_t max_frames_ = 0;
};

}  // namespace mixprof

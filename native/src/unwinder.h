// Unwinds one sampled user stack from the registers and the copy of the
// stack top taken at sample time; words beyond the copy are read from the
// live process. The modules' .eh_frame compiled into rows (cfi_table.h)
// unwinds almost every stack; one that meets a rule the rows do not hold, or
// a module without them, is unwound by libdwfl's CFI unwinder (.eh_frame and
// .debug_frame of the modules a Symbolizer reported), the reference.
#pragma once

#include <elfutils/libdwfl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cfi_table.h"

namespace mixprof {

// x86-64 registers in DWARF order: rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip.
constexpr int kDwarfRegs = 17;

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

  // The modules were reported again (a new maps snapshot): where each lies
  // is looked up afresh; compiled tables are kept.
  void ModulesChanged() {
    ranges_.clear();
    generation_++;
  }

  // A module whose rows are compiled, where it lies now (for the kernel's
  // unwinder: bpf/dwarf-sampler.bpf.c).
  struct CompiledModule {
    const std::string* name;  // the module's file: the same rows for the same file
    uint64_t low;
    uint64_t high;
    uint64_t bias;
    const CfiTable* table;  // kept as long as this unwinder
  };
  // Every module reported whose rows are compiled (a module is compiled when
  // an unwind here first meets it), sorted by address.
  std::vector<CompiledModule> CompiledModules();
  // Moves when a module is compiled or the modules are reported again.
  uint64_t generation() const { return generation_; }

  // libdwfl's unwind of a snapshot, the reference other unwinds are held to.
  bool Reference(pid_t tid, const StackSnapshot& snapshot, size_t max_frames, std::vector<uint64_t>* pcs);

  // How the stacks were unwound so far.
  struct Counts {
    uint64_t tables = 0;
    uint64_t libdwfl = 0;
    // With checking on: table unwinds that libdwfl unwound differently.
    uint64_t checked = 0;
    uint64_t differed = 0;
  };
  const Counts& counts() const { return counts_; }

  // Unwinds every stack the rows unwind with libdwfl too, and counts where
  // the two differ (tests hold the rows to libdwfl so).
  void set_check(bool check) { check_ = check; }

  // A stack word of the unwind in progress (the copy, else the live process).
  bool ReadWord(uint64_t addr, uint64_t* out);

  // A test's fault: every row's CFA offset 8 bytes off.
  void set_skew(bool skew) { skew_ = skew; }

  // Which way Unwind goes: the rows where they can (the default), or
  // libdwfl only.
  void set_tables(bool tables) { use_tables_ = tables; }

 private:
  bool Attach();
  // Unwinds with the rows; false when a frame needs a rule they do not hold.
  bool TableUnwind(const StackSnapshot& snapshot, size_t max_frames, std::vector<uint64_t>* pcs, bool* complete);
  bool DwflUnwind(pid_t tid, const StackSnapshot& snapshot, size_t max_frames, std::vector<uint64_t>* pcs);
  struct Range {
    uint64_t low;
    uint64_t high;
    // Runtime address = link-time address + bias.
    uint64_t bias;
    const CfiTable* table;  // null: a module without rows
  };
  // Where the module holding pc (a runtime address) lies, and its rows; null in no module.
  const Range* RangeAt(uint64_t pc);
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

  // Compiled rows by module file (they hold link-time addresses: a file
  // mapped again elsewhere uses them as they are; libdwfl's module objects
  // may be replaced when the maps are reported again), and where each
  // module lies now.
  std::map<std::string, std::unique_ptr<CfiTable>> tables_;
  std::vector<Range> ranges_;
  uint64_t generation_ = 0;
  Counts counts_;
  bool check_ = false;
  bool use_tables_ = true;
  bool skew_ = false;
  std::vector<uint64_t> check_pcs_;
};

}  // namespace mixprof

// Runs bpf/dwarf-sampler.bpf.c against one process: loads it with libbpf,
// attaches it to a cpu-clock perf event per CPU, and on each poll drains its
// ring buffer, unwinds every sampled user stack with the Symbolizer's CFI
// unwinder and hands back samples counted by (process, thread when asked,
// chain, stacks): each distinct record once, then by its number. In wall-clock mode a thread of
// its own also runs the task iterator that samples the target's threads
// that are off CPU.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "symbolizer.h"

struct sample_record;
struct unwind_module;

namespace mixprof {

class DwarfSampler : public Napi::ObjectWrap<DwarfSampler> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit DwarfSampler(const Napi::CallbackInfo& info);
  ~DwarfSampler() override;

 private:
  // How a sample's user unwind ended (the values are part of its record's key).
  enum class UnwindEnd : uint8_t {
    kStopped = 0,
    kComplete = 1,
    // Stopped after reading beyond the stack copy (Unwinder::beyond_copy).
    kBeyondCopy = 2,
    // The kernel's unwind as far as it went, sent instead of a copy (NATIVE_SHORT).
    kShort = 3,
  };
  // One distinct record: process, thread (0 unless per_thread_), chain, GIL state and both stacks, and how the unwind ended.
  struct StackRecord {
    uint32_t pid = 0;
    uint32_t tid = 0;
    uint64_t chain = 0;
    uint32_t gil = 0;  // GIL_* of bpf/dwarf-sampler.h
    std::vector<uint64_t> user;
    std::vector<uint64_t> kernel;
    UnwindEnd end = UnwindEnd::kStopped;
    // Taken off CPU (wall-clock mode): runnable, waiting for a CPU; or
    // waiting (asleep or blocked in the kernel). A dump says which.
    bool runnable = false;
    bool waiting = false;
    // The number it is handed over by (Intern).
    uint64_t id = 0;
  };
  // What Count needs of a sample, from either record it comes in
  // (sample_record, unwound_record); kernel points into the ring.
  struct SampleHead {
    uint32_t pid = 0;
    uint32_t tid = 0;
    uint64_t chain = 0;
    uint32_t gil = 0;
    uint32_t off_cpu = 0;
    uint32_t weight = 0;
    uint64_t time_ns = 0;
    const uint64_t* kernel = nullptr;
    uint32_t kernel_depth = 0;
  };
  // A thread's last off-CPU sample, which a repeat record counts again, or
  // (wall-clock mode) its last clock sample, which a running record counts.
  struct LastSample {
    uint64_t digest = 0;
    StackRecord sample;
    // When it was taken (a running record's stack is only as recent as this).
    uint64_t time_ns = 0;
  };
  struct Chain {
    uint32_t pid = 0;
    uint64_t hash = 0;
    bool truncated = false;
    std::vector<uint64_t> frames;  // code, instr, flags, first line per frame
  };

  // A followed process forked, exited or exec'd (RECORD_FORK/EXIT/CHILD_EXEC).
  struct ProcessEvent {
    uint32_t kind = 0;
    uint32_t pid = 0;
    uint32_t parent = 0;
    uint64_t time_ns = 0;
  };

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Poll(const Napi::CallbackInfo& info);
  // Drains the ring buffer into the counts, and hands the kernel the modules compiled meanwhile.
  void Drain(Napi::Env env);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Follows(const Napi::CallbackInfo& info);
  Napi::Value Adopt(const Napi::CallbackInfo& info);
  Napi::Value UnwindWith(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  static int OnRecord(void* ctx, void* data, size_t size);
  void HandleRecord(const uint8_t* data, size_t size);
  // A sample the kernel unwound (RECORD_UNWOUND).
  void HandleUnwound(const uint8_t* data, size_t size);
  // Notes a thread the first time one of its samples comes.
  void NoteThread(uint32_t tid, uint32_t pid, const char* comm, size_t comm_size);
  // Lets go of what is kept for a thread that exited.
  void ForgetThread(uint32_t tid);
  // Counts samples of a thread under record id, taken at time_ns: logged for
  // a timeline, unless kUntimed (counts whose stack at that time is not known).
  static constexpr uint64_t kUntimed = 0;
  void Counted(uint64_t id, uint32_t pid, uint32_t tid, uint64_t samples, uint64_t time_ns);
  // The symbolizer of pid's modules, and the process they are unwound as.
  Symbolizer* SymbolizerOf(uint32_t pid, pid_t* unwound_as);
  // Unwinds a sample's copied stack (at stack) into pcs_.
  void UnwindCopy(const sample_record* s, const uint8_t* stack, Symbolizer* symbolizer, pid_t unwound_as,
                  bool* complete, bool* beyond_copy);
  // Counts the sample whose user stack is in pcs_ under its record.
  void Count(const SampleHead& s, Symbolizer* symbolizer, UnwindEnd end);
  // The number of the record with this digest, numbering it (and keeping
  // sample, to hand over) when new.
  uint64_t Intern(uint64_t digest, const StackRecord& sample);
  // Counts the thread's sample in last again, weight times, at time_ns (on
  // the timeline only if that sample is at most max_age_ns older); false when it has none.
  bool CountAgain(std::unordered_map<uint32_t, LastSample>* last, uint32_t tid, uint64_t weight, uint64_t time_ns,
                  uint64_t max_age_ns);
  // Hands the kernel the modules of pid whose rows are compiled by its
  // unwinder, when they changed since the last time.
  void PushModules(uint32_t pid, Unwinder* unwinder);
  // Where a module's rows and pages are in the kernel's cfi_rows and
  // cfi_pages (the fields of struct unwind_module past its bias), loading
  // them the first time; false when they do not fit.
  bool RowBlock(const Unwinder::CompiledModule& module, unwind_module* out);
  void ForgetModules(uint32_t pid);
  void Detach();
  void Release();
  void TickWallClock();
  int WatchWall(uint32_t pid);
  void SyncWallLinks();

  pid_t pid_ = 0;
  int hz_ = 0;
  size_t max_frames_ = 0;
  // Distinct records numbered before the numbers are forgotten (options.recordsKept).
  size_t records_kept_ = 0;
  bpf_object* object_ = nullptr;
  bpf_program* program_ = nullptr;
  // Wall-clock mode: the task iterator, run hz times a second by ticker_.
  bool wall_ = false;
  bpf_program* wall_program_ = nullptr;
  // The wall-clock iterator's links, by process; the ticker runs each per pass
  // and alone changes them once it runs.
  std::unordered_map<uint32_t, bpf_link*> wall_links_;
  int followed_changes_fd_ = -1;
  // Fork-following.
  bool follow_ = false;
  // The programs that watch the target's exit and, following, its descendants.
  std::vector<bpf_program*> process_programs_;
  std::thread ticker_;
  std::atomic<bool> ticking_{false};
  ring_buffer* ring_ = nullptr;
  int dropped_fd_ = -1;
  int followed_fd_ = -1;
  int wall_pass_fd_ = -1;
  std::vector<int> perf_fds_;
  std::vector<bpf_link*> links_;
  Napi::ObjectReference symbolizer_ref_;
  Symbolizer* symbolizer_ = nullptr;
  // A followed process that mapped code since its fork, with the symbolizer
  // over its own maps (set by user space); others unwind with the target's.
  struct ProcessSymbolizer {
    Napi::ObjectReference ref;
    Symbolizer* symbolizer = nullptr;
  };
  std::unordered_map<uint32_t, ProcessSymbolizer> process_symbolizers_;

  // Every distinct record (thread, chain, GIL, stacks, ending) seen: the
  // 64-bit digest of its key -> its number. Its frames are handed over once,
  // in the poll after it is first seen, and from then on only its number with
  // its count; only the digest is kept (a few dozen bytes a record, where the
  // key and frames were a kilobyte). Emptied by the poll that finds more than
  // kMaxStacks (which tells JavaScript to forget the numbers).
  std::unordered_map<uint64_t, uint64_t> stacks_;
  uint64_t next_stack_id_ = 1;
  // A record's key, made per sample (kept to reuse its buffer).
  std::string key_;
  // Filled while draining, handed over and cleared by Poll(): records first
  // seen, and counts by number.
  std::vector<StackRecord> new_stacks_;
  std::unordered_map<uint64_t, uint64_t> counts_;
  std::vector<Chain> chains_;
  std::vector<ProcessEvent> processes_;
  struct NewThread {
    uint32_t pid = 0;
    std::string comm;
  };
  std::unordered_map<uint32_t, NewThread> new_threads_;
  // Threads noted (NoteThread), until they exit.
  std::unordered_map<uint32_t, bool> threads_;
  // Records carry their thread (--threads): otherwise the threads of a pool
  // share their records, and the samples each thread got are counted here,
  // handed over and cleared by each full poll.
  bool per_thread_ = true;
  struct ThreadSamples {
    uint32_t pid = 0;
    uint64_t samples = 0;
  };
  std::unordered_map<uint32_t, ThreadSamples> thread_samples_;
  // options.timeline: every count is also logged as it is made (time in ns,
  // thread, record number, weight), handed over and cleared by every poll.
  bool timeline_ = false;
  std::vector<double> timeline_log_;
  // A running record goes on the timeline only while the clock sample whose
  // stack it takes is at most 2.5 periods old: a thread the clock has not
  // caught since (a busy machine) may be running elsewhere by now.
  uint64_t running_max_age_ns_ = 0;
  std::unordered_map<uint32_t, LastSample> last_off_cpu_;
  // Wall-clock mode: each thread's latest clock sample, which running records count,
  // and running records that came before any.
  std::unordered_map<uint32_t, LastSample> last_on_cpu_;
  std::unordered_map<uint32_t, uint64_t> pending_running_;
  uint64_t malformed_ = 0;
  // Bytes taken from the ring since the last consume() or poll().
  uint64_t drained_bytes_ = 0;
  // The target exec'd (a RECORD_EXEC arrived): sampling it should end.
  bool execd_ = false;
  std::atomic<uint64_t> tick_errors_{0};
  // Passes still to fail on purpose (options.failWallPasses); the ticker's alone once started.
  uint32_t fail_wall_passes_ = 0;
  // The weight of the first wall-clock pass (a dump's mark on it); the others weigh 1.
  uint32_t first_pass_weight_ = 1;
  // options.unwinder: the compiled rows where they hold, in the kernel (the
  // default) or in user space, or libdwfl alone.
  bool table_unwind_ = true;
  bool kernel_unwind_ = true;
  // The kernel's rows and modules (bpf/dwarf-sampler.h): each module file's
  // rows loaded once, at [first, first + count) of cfi_rows.
  int cfi_rows_fd_ = -1;
  int unwind_modules_fd_ = -1;
  int cfi_pages_fd_ = -1;
  uint32_t rows_used_ = 0;
  uint32_t pages_used_ = 0;
  std::unordered_map<std::string, unwind_module> row_blocks_;
  // The unwinder generation last handed to the kernel, by process (plus one).
  std::unordered_map<uint32_t, uint64_t> pushed_generation_;
  // Checking: the kernel's unwind of each thread's sample whose copy comes next.
  struct KernelUnwind {
    std::vector<uint64_t> pcs;
    bool complete = false;
  };
  std::unordered_map<uint32_t, KernelUnwind> kernel_checks_;
  // The target's stacks unwound in the kernel; checking, how many were
  // unwound by libdwfl from their copy too, and how many of those differently.
  uint64_t kernel_unwinds_ = 0;
  uint64_t kernel_checked_ = 0;
  uint64_t kernel_differed_ = 0;
  // options.checkUnwind: every stack the rows unwind is unwound by libdwfl too, and compared.
  bool check_unwind_ = false;
  // options.skewCfiRows: a test's fault, the rows' CFA offsets 8 bytes off.
  bool skew_cfi_rows_ = false;
  std::vector<uint64_t> pcs_;
};

}  // namespace mixprof

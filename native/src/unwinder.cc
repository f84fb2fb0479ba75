#include "unwinder.h"

#include <sys/uio.h>

#include <algorithm>
#include <cstring>

namespace mixprof {

namespace {

int ReadWord(Unwinder* unwinder, __u64 addr, __u64* out) {
  uint64_t word = 0;
  if (!unwinder->ReadWord(addr, &word)) return 0;
  *out = word;
  return 1;
}

DEFINE_CFI_STEP(user, Unwinder*, ReadWord)

}  // namespace

Unwinder::Unwinder(Dwfl* dwfl, pid_t pid) : dwfl_(dwfl), pid_(pid) {
  callbacks_.next_thread = &Unwinder::NextThread;
  callbacks_.get_thread = &Unwinder::GetThread;
  callbacks_.memory_read = &Unwinder::MemoryRead;
  callbacks_.set_initial_registers = &Unwinder::SetInitialRegisters;
}

bool Unwinder::Attach() {
  if (attached_) return true;
  // A null ELF: libdwfl takes the architecture from the reported modules.
  attached_ = dwfl_attach_state(dwfl_, nullptr, pid_, &callbacks_, this);
  return attached_;
}

bool Unwinder::Unwind(pid_t tid, const StackSnapshot& snapshot,
                      size_t max_frames, std::vector<uint64_t>* pcs) {
  pcs->clear();
  beyond_copy_ = false;
  if (use_tables_) {
    bool complete = false;
    current_ = &snapshot;
    bool unwound = TableUnwind(snapshot, max_frames, pcs, &complete);
    current_ = nullptr;
    if (unwound) {
      counts_.tables++;
      if (check_) {
        bool beyond = beyond_copy_;
        bool reference_complete = DwflUnwind(tid, snapshot, max_frames, &check_pcs_);
        counts_.checked++;
        if (check_pcs_ != *pcs || reference_complete != complete) counts_.differed++;
        beyond_copy_ = beyond;
      }
      return complete;
    }
    pcs->clear();
    beyond_copy_ = false;
  }
  counts_.libdwfl++;
  return DwflUnwind(tid, snapshot, max_frames, pcs);
}

bool Unwinder::TableUnwind(const StackSnapshot& snapshot, size_t max_frames,
                           std::vector<uint64_t>* pcs, bool* complete) {
  cfi_regs r{snapshot.regs[kDwarfIp], snapshot.regs[kDwarfSp], snapshot.regs[kDwarfRbp]};
  *complete = false;
  for (size_t i = 0; pcs->size() < max_frames; i++) {
    pcs->push_back(r.pc);
    // A caller's pc is a return address: the call is the instruction before it.
    uint64_t lookup = i == 0 ? r.pc : r.pc - 1;
    const Range* range = RangeAt(lookup);
    // Code in no module (JIT, or a stale word) ends the stack, as it ends libdwfl's.
    if (range == nullptr) return true;
    if (range->table == nullptr) return false;
    const cfi_row* row = range->table->Find(lookup - range->bias);
    if (row == nullptr) return true;
    cfi_row skewed;
    if (skew_) {
      skewed = *row;
      skewed.cfa_offset += 8;
      row = &skewed;
    }
    switch (cfi_step_user(this, row, &r)) {
      case CFI_STEP_OK:
        break;
      case CFI_STEP_END:
        *complete = true;
        return true;
      case CFI_STEP_STOP:
        return true;
      default:
        return false;
    }
  }
  return true;
}

const Unwinder::Range* Unwinder::RangeAt(uint64_t pc) {
  auto by_low = [](uint64_t value, const Range& r) { return value < r.low; };
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), pc, by_low);
  if (it != ranges_.begin() && pc < (it - 1)->high) return &*(it - 1);
  Dwfl_Module* mod = dwfl_addrmodule(dwfl_, pc);
  if (mod == nullptr) return nullptr;
  Dwarf_Addr low = 0;
  Dwarf_Addr high = 0;
  const char* name = dwfl_module_info(mod, nullptr, &low, &high, nullptr, nullptr, nullptr, nullptr);
  std::string key = name != nullptr ? name : "";
  auto known = tables_.find(key);
  if (known == tables_.end()) {
    known = tables_.emplace(key, std::make_unique<CfiTable>(CfiTable::Compile(mod))).first;
    generation_++;
  }
  // The rows are compiled from the module's ELF file (CfiTable::Compile): its bias.
  GElf_Addr bias = 0;
  dwfl_module_getelf(mod, &bias);
  const CfiTable* table = known->second->empty() ? nullptr : known->second.get();
  it = ranges_.insert(std::upper_bound(ranges_.begin(), ranges_.end(), low, by_low), Range{low, high, bias, table});
  return &*it;
}

std::vector<Unwinder::CompiledModule> Unwinder::CompiledModules() {
  std::vector<CompiledModule> out;
  struct Walk {
    Unwinder* self;
    std::vector<CompiledModule>* out;
  } walk{this, &out};
  dwfl_getmodules(
      dwfl_,
      [](Dwfl_Module* mod, void**, const char* name, Dwarf_Addr low, void* arg) -> int {
        auto* w = static_cast<Walk*>(arg);
        auto known = w->self->tables_.find(name != nullptr ? name : "");
        if (known == w->self->tables_.end() || known->second->empty()) return DWARF_CB_OK;
        Dwarf_Addr high = 0;
        dwfl_module_info(mod, nullptr, nullptr, &high, nullptr, nullptr, nullptr, nullptr);
        GElf_Addr bias = 0;
        if (dwfl_module_getelf(mod, &bias) == nullptr) return DWARF_CB_OK;
        w->out->push_back(CompiledModule{&known->first, low, high, bias, known->second.get()});
        return DWARF_CB_OK;
      },
      &walk, 0);
  std::sort(out.begin(), out.end(), [](const CompiledModule& a, const CompiledModule& b) { return a.low < b.low; });
  return out;
}

bool Unwinder::Reference(pid_t tid, const StackSnapshot& snapshot, size_t max_frames, std::vector<uint64_t>* pcs) {
  return DwflUnwind(tid, snapshot, max_frames, pcs);
}

bool Unwinder::DwflUnwind(pid_t tid, const StackSnapshot& snapshot,
                          size_t max_frames, std::vector<uint64_t>* pcs) {
  pcs->clear();
  if (!Attach()) {
    // No module to learn the architecture from yet: the leaf is all there is.
    pcs->push_back(snapshot.regs[kDwarfIp]);
    return false;
  }
  current_ = &snapshot;
  out_ = pcs;
  max_frames_ = max_frames;
  int rc = dwfl_getthread_frames(dwfl_, tid, &Unwinder::OnFrame, this);
  current_ = nullptr;
  out_ = nullptr;
  if (pcs->empty()) pcs->push_back(snapshot.regs[kDwarfIp]);
  // rc is 0 at an outermost frame, DWARF_CB_ABORT at max_frames, -1 on an error.
  return rc == 0;
}

bool Unwinder::ReadWord(uint64_t addr, uint64_t* out) {
  Dwarf_Word word = 0;
  if (!Read(addr, &word)) return false;
  *out = word;
  return true;
}

bool Unwinder::Read(Dwarf_Addr addr, Dwarf_Word* result) {
  const StackSnapshot* s = current_;
  if (s == nullptr) return false;
  uint64_t base = s->stack_addr;
  if (addr >= base && addr - base <= s->stack_size &&
      s->stack_size - (addr - base) >= sizeof(Dwarf_Word)) {
    std::memcpy(result, s->stack + (addr - base), sizeof(Dwarf_Word));
    return true;
  }
  // Below the stack pointer the live process has moved on: never read there.
  if (addr < s->regs[kDwarfSp]) return false;
  // Beyond the copy: the caller frames of a long-running function are
  // still in place in the live process.
  iovec local{result, sizeof(Dwarf_Word)};
  iovec remote{reinterpret_cast<void*>(addr), sizeof(Dwarf_Word)};
  beyond_copy_ = true;
  return process_vm_readv(s->pid != 0 ? s->pid : pid_, &local, 1, &remote, 1, 0) ==
         static_cast<ssize_t>(sizeof(Dwarf_Word));
}

pid_t Unwinder::NextThread(Dwfl*, void*, void**) {
  return 0;  // threads are only ever asked for by id
}

bool Unwinder::GetThread(Dwfl*, pid_t, void* dwfl_arg, void** thread_argp) {
  *thread_argp = dwfl_arg;
  return true;
}

bool Unwinder::MemoryRead(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result,
                          void* dwfl_arg) {
  return static_cast<Unwinder*>(dwfl_arg)->Read(addr, result);
}

bool Unwinder::SetInitialRegisters(Dwfl_Thread* thread, void* thread_arg) {
  const StackSnapshot* s = static_cast<Unwinder*>(thread_arg)->current_;
  if (s == nullptr) return false;
  Dwarf_Word regs[kDwarfRegs];
  for (int i = 0; i < kDwarfRegs; i++) regs[i] = s->regs[i];
  if (!dwfl_thread_state_registers(thread, 0, kDwarfRegs, regs)) return false;
  dwfl_thread_state_register_pc(thread, s->regs[kDwarfIp]);
  return true;
}

int Unwinder::OnFrame(Dwfl_Frame* frame, void* arg) {
  auto* self = static_cast<Unwinder*>(arg);
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(frame, &pc, &activation)) return DWARF_CB_ABORT;
  self->out_->push_back(pc);
  return self->out_->size() >= self->max_frames_ ? DWARF_CB_ABORT
                                                 : DWARF_CB_OK;
}

}  // namespace mixprof

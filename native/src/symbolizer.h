// Address -> (module, symbol) for one process, from a /proc/PID/maps
// snapshot, using libdwfl for module layout, symbol tables and debug files.
#pragma once

#include <elfutils/libdwfl.h>
#include <napi.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "debug_search.h"
#include "unwinder.h"

namespace mixprof {

class Symbolizer : public Napi::ObjectWrap<Symbolizer> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit Symbolizer(const Napi::CallbackInfo& info);
  ~Symbolizer() override;

  // The CFI unwinder over this symbolizer's modules (they must cover the
  // process `pid`); null once closed.
  Unwinder* unwinder(pid_t pid);

  // What names `addr`'s frame as symbolize() names it: its function's start
  // by symbol, or with the top bit set the start of the function .eh_frame
  // describes around it, or addr itself. Addresses with one start are one
  // frame.
  uint64_t FrameStart(uint64_t addr);

 private:
  // One executable mapping already reported, so a later snapshot can
  // re-report it without reopening the file (libdwfl keeps its caches).
  struct KnownModule {
    bool ok = false;
    std::string name;
    Dwarf_Addr low = 0;
    Dwarf_Addr high = 0;
    uint64_t bias = 0;
    // Set for a mapping whose file could not be opened: the module then
    // has only a name and range, and this is the file offset at `low`.
    std::optional<uint64_t> fileless_offset;
  };

  // Per function (keyed by runtime start address): shared by all
  // addresses inside it, so names are stored once.
  struct FunctionInfo {
    std::string name;
    std::optional<bool> frame_pointer;
    // Bytes up to the end of `mov %rsp,%rbp` when frame_pointer.
    uint64_t prologue_end = 0;
  };

  // Per address. Module and function pointers stay valid until the next
  // Report(), which clears this cache.
  struct Frame {
    Dwfl_Module* module = nullptr;
    uint64_t module_base = 0;
    uint64_t rel_addr = 0;
    std::optional<uint64_t> file_offset;
    const FunctionInfo* function = nullptr;
    uint64_t sym_offset = 0;
    // The instruction at the address is a return: the frame is already torn down.
    bool at_return = false;
    // From the module's CFI: the frame is addressed through %rbp at the
    // address (as an interrupted leaf) and at the call before it (as a
    // return address). Known for code without a symbol, split-off parts and
    // shrink-wrapped or interleaved prologues alike.
    std::optional<bool> rbp_frame_here;
    std::optional<bool> rbp_frame_at_call;
    // As an interrupted leaf whose frame pointer is not in place: the word
    // (counted from the stack pointer) that holds its return address, when
    // the CFA is %rsp plus a constant and %rbp still holds the caller's
    // frame (not stored by this code, or just pushed in a frame-pointer
    // prologue).
    std::optional<uint32_t> return_slot;
    // No symbol: how far the address is past the start of the function
    // .eh_frame describes around it (its addresses are named by that start).
    std::optional<uint64_t> fde_distance;
  };

  Napi::Value Symbolize(const Napi::CallbackInfo& info);
  Napi::Value FrameStarts(const Napi::CallbackInfo& info);
  Napi::Value UpdateMaps(const Napi::CallbackInfo& info);
  Napi::Value Modules(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Dwfl* Live(Napi::Env env);
  void Report(Napi::Env env, const std::string& maps);
  void ReportNew(const std::string& key, const std::string& name,
                 uint64_t start, uint64_t end, uint64_t offset,
                 std::unordered_map<std::string, KnownModule>* known);
  void ReportKnown(const KnownModule& km);
  const Frame& Lookup(uint64_t addr);
  int64_t SymbolShift(Dwfl_Module* mod);
  const char* FunctionSymbol(Dwfl_Module* mod, uint64_t addr, GElf_Off* offset, GElf_Sym* sym);
  std::optional<uint64_t> FdeDistance(Dwfl_Module* mod, Elf* elf, uint64_t rel);
  // libdwfl's symbol for an address (dwfl_module_addrinfo), remembered per
  // span between symbol boundaries (see SymbolSpans).
  struct SymbolAnswer {
    const char* name = nullptr;
    GElf_Sym sym{};
    uint64_t value = 0;  // the symbol's address as libdwfl places it
  };
  struct SymbolSpans {
    std::vector<uint64_t> bounds;  // sorted starts and ends of symbols and sections
    std::unordered_map<size_t, SymbolAnswer> answers;  // by span (AddrSymbol)
  };
  const SymbolAnswer& AddrSymbol(Dwfl_Module* mod, uint64_t addr);
  static std::vector<uint64_t> SymbolBounds(Dwfl_Module* mod);
  struct CfaRule {
    unsigned reg;  // DWARF register number
    int64_t offset;
    bool rbp_saved;
  };
  static std::optional<CfaRule> CfaAt(Dwfl_Module* mod, uint64_t addr);
  const FunctionInfo* Function(Dwfl_Module* mod, uint64_t sym_start,
                               const char* sym_name);
  void Release();

  static int FindElf(Dwfl_Module* mod, void** userdata, const char* modname,
                     Dwarf_Addr base, char** file_name, Elf** elfp);
  static int FindDebuginfo(Dwfl_Module* mod, void** userdata,
                           const char* modname, Dwarf_Addr base,
                           const char* file_name, const char* debuglink_file,
                           GElf_Word debuglink_crc,
                           char** debuginfo_file_name);
  int FindDebuginfoFor(Dwfl_Module* mod, const char* modname,
                       const char* file_name, const char* debuglink_file,
                       GElf_Word debuglink_crc, char** debuginfo_file_name);

  Dwfl_Callbacks callbacks_{};
  Dwfl* dwfl_ = nullptr;
  std::unique_ptr<Unwinder> unwinder_;
  // Where debug files are looked for: the target's root, debug dirs, -d files.
  DebugSearch search_;
  std::unordered_map<std::string, std::string> files_;
  std::unordered_map<std::string, KnownModule> known_;
  std::unordered_map<const Dwfl_Module*, uint64_t> fileless_offsets_;
  // Per module: how far libdwfl misplaces the separate debug file's symbols
  // (see SymbolShift).
  std::unordered_map<const Dwfl_Module*, int64_t> symbol_shifts_;
  // Each module's .eh_frame function starts (link-time addresses), read when first needed.
  std::unordered_map<const Dwfl_Module*, std::vector<uint64_t>> fde_starts_;
  std::unordered_map<const Dwfl_Module*, SymbolSpans> symbol_spans_;
  // MIXPROF_SYMBOL_SPANS=0 asks libdwfl every time: what the spans are tested against.
  bool use_symbol_spans_ = true;
  std::unordered_map<uint64_t, Frame> cache_;
  // FrameStart's answers. (Not by function extents: symbols nest, as glibc's
  // memcpy entry points inside its memmove functions do.)
  std::unordered_map<uint64_t, uint64_t> starts_;
  // Node-based map: element addresses survive rehashing.
  std::unordered_map<uint64_t, FunctionInfo> functions_;
};

}  // namespace mixprof

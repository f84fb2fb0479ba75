#include "symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "debug_search.h"
#include "elf_file.h"
#include "errors.h"
#include "function_parts.h"

namespace mixprof {

namespace {

constexpr size_t kMaxCachedAddresses = 1u << 20;
constexpr uint64_t kUnnamedStart = 1ull << 63;
// Bytes at a function's start searched for the frame-pointer set-up.
constexpr size_t kPrologueWindow = 64;
constexpr uint64_t kPageMask = ~uint64_t{0xfff};  // x86-64 pages
const char kDeletedSuffix[] = " (deleted)";

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t offset = 0;
  bool exec = false;
  uint64_t inode = 0;
  std::string path;
};

bool ParseHex(const char*& p, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(p, &end, 16);
  if (end == p || errno != 0) return false;
  *out = v;
  p = end;
  return true;
}

// One line of /proc/PID/maps: "start-end perms offset dev inode   path".
bool ParseMapping(const std::string& line, Mapping* m) {
  const char* p = line.c_str();
  if (!ParseHex(p, &m->start) || *p++ != '-' || !ParseHex(p, &m->end) ||
      *p++ != ' ') {
    return false;
  }
  if (std::strlen(p) < 5 || p[4] != ' ') return false;
  m->exec = p[2] == 'x';
  p += 5;
  if (!ParseHex(p, &m->offset) || *p++ != ' ') return false;
  while (*p != '\0' && *p != ' ') p++;  // device
  while (*p == ' ') p++;
  char* end = nullptr;
  m->inode = std::strtoull(p, &end, 10);
  p = end;
  while (*p == ' ') p++;
  m->path = p;
  return true;
}

std::vector<Mapping> ParseMaps(const std::string& text) {
  std::vector<Mapping> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    Mapping m;
    if (ParseMapping(text.substr(pos, nl - pos), &m)) out.push_back(m);
    pos = nl + 1;
  }
  return out;
}

std::string StripDeleted(const std::string& path) {
  size_t n = sizeof(kDeletedSuffix) - 1;
  if (path.size() > n &&
      path.compare(path.size() - n, n, kDeletedSuffix) == 0) {
    return path.substr(0, path.size() - n);
  }
  return path;
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Load bias from one executable mapping: find the PT_LOAD holding the
// mapped file offset. Works whatever the linker put at file offset 0.
std::optional<uint64_t> ComputeBias(Elf* elf, uint64_t start,
                                    uint64_t offset) {
  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) != 0) return std::nullopt;
  std::optional<uint64_t> any;
  for (size_t i = 0; i < phnum; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, static_cast<int>(i), &ph) == nullptr ||
        ph.p_type != PT_LOAD) {
      continue;
    }
    if (offset < (ph.p_offset & kPageMask) ||
        offset >= ph.p_offset + ph.p_filesz) {
      continue;
    }
    uint64_t bias = start - offset + ph.p_offset - ph.p_vaddr;
    if (ph.p_flags & PF_X) return bias;
    if (!any) any = bias;
  }
  return any;
}

bool IsFunction(const GElf_Sym& sym) {
  int type = GELF_ST_TYPE(sym.st_info);
  return type == STT_FUNC || type == STT_GNU_IFUNC;
}

std::string Demangle(const char* name) {
  if (std::strncmp(name, "_Z", 2) != 0) return name;
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

std::string BuildIdOf(Dwfl_Module* mod) {
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int len = dwfl_module_build_id(mod, &bits, &vaddr);
  return len > 0 ? HexBytes(bits, static_cast<size_t>(len)) : std::string();
}

// {path as in maps: file to open}: how to reach files the target sees at
// paths we cannot (a chroot inside its mount namespace): /proc/PID/map_files.
std::unordered_map<std::string, std::string> StringMap(Napi::Env env,
                                                       Napi::Value value,
                                                       const char* what) {
  std::unordered_map<std::string, std::string> out;
  if (value.IsUndefined() || value.IsNull()) return out;
  if (!value.IsObject() || value.IsArray()) {
    ThrowTypeError(env, std::string(what) + " must be an object");
  }
  Napi::Object object = value.As<Napi::Object>();
  Napi::Array keys = object.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    Napi::Value key = keys.Get(i);
    Napi::Value v = object.Get(key);
    if (!v.IsString()) ThrowTypeError(env, std::string(what) + " must map strings to strings");
    out[key.As<Napi::String>().Utf8Value()] = v.As<Napi::String>().Utf8Value();
  }
  return out;
}

std::vector<std::string> StringArray(Napi::Env env, Napi::Value value,
                                     const char* what) {
  std::vector<std::string> out;
  if (value.IsUndefined() || value.IsNull()) return out;
  if (!value.IsArray()) {
    ThrowTypeError(env, std::string(what) + " must be an array");
  }
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value v = array.Get(i);
    if (!v.IsString()) {
      ThrowTypeError(env, std::string(what) + " must hold strings");
    }
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

Napi::Value BigIntOrNull(Napi::Env env, const std::optional<uint64_t>& v) {
  if (!v) return env.Null();
  return Napi::BigInt::New(env, *v);
}

Napi::Value StringOrNull(Napi::Env env, const char* s) {
  if (s == nullptr) return env.Null();
  return Napi::String::New(env, s);
}

}  // namespace

Napi::Function Symbolizer::Define(Napi::Env env) {
  return DefineClass(env, "Symbolizer",
                     {
                         InstanceMethod("symbolize", &Symbolizer::Symbolize),
                         InstanceMethod("frameStarts", &Symbolizer::FrameStarts),
                         InstanceMethod("updateMaps", &Symbolizer::UpdateMaps),
                         InstanceMethod("modules", &Symbolizer::Modules),
                         InstanceMethod("close", &Symbolizer::Close),
                     });
}

Symbolizer::Symbolizer(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Symbolizer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowTypeError(env, "Symbolizer needs an options object");
  }
  Napi::Object options = info[0].As<Napi::Object>();
  Napi::Value maps = options.Get("maps");
  if (!maps.IsString()) ThrowTypeError(env, "options.maps must be a string");
  Napi::Value root = options.Get("root");
  if (!root.IsUndefined() && !root.IsNull()) {
    if (!root.IsString()) ThrowTypeError(env, "options.root must be a string");
    search_.root = root.As<Napi::String>().Utf8Value();
    while (!search_.root.empty() && search_.root.back() == '/') search_.root.pop_back();
  }
  files_ = StringMap(env, options.Get("files"), "options.files");
  search_.AddExtraFiles(StringArray(env, options.Get("extraFiles"), "options.extraFiles"));
  Napi::Value dirs = options.Get("debugDirs");
  if (!dirs.IsUndefined() && !dirs.IsNull()) search_.debug_dirs = StringArray(env, dirs, "options.debugDirs");

  const char* spans = std::getenv("MIXPROF_SYMBOL_SPANS");
  use_symbol_spans_ = spans == nullptr || std::strcmp(spans, "0") != 0;
  callbacks_.find_elf = &Symbolizer::FindElf;
  // Only mixprof's own, contained search (debug_search.h): no debuginfo_path
  // and no fallback to libdwfl's standard search, which opens plain paths.
  callbacks_.find_debuginfo = &Symbolizer::FindDebuginfo;
  callbacks_.section_address = dwfl_offline_section_address;
  dwfl_ = dwfl_begin(&callbacks_);
  if (dwfl_ == nullptr) {
    ThrowCodeError(env, "EDWFL",
                   std::string("dwfl_begin failed: ") + dwfl_errmsg(-1));
  }
  try {
    Report(env, maps.As<Napi::String>().Utf8Value());
  } catch (...) {
    Release();  // the destructor does not run when a constructor throws
    throw;
  }
}

Symbolizer::~Symbolizer() { Release(); }

void Symbolizer::Release() {
  if (dwfl_ != nullptr) dwfl_end(dwfl_);
  dwfl_ = nullptr;
  unwinder_.reset();
  known_.clear();
  cache_.clear();
  starts_.clear();
  functions_.clear();
}

Unwinder* Symbolizer::unwinder(pid_t pid) {
  if (dwfl_ == nullptr) return nullptr;
  if (!unwinder_) unwinder_ = std::make_unique<Unwinder>(dwfl_, pid);
  return unwinder_.get();
}

Dwfl* Symbolizer::Live(Napi::Env env) {
  if (dwfl_ == nullptr) ThrowCodeError(env, "ECLOSED", "Symbolizer is closed");
  return dwfl_;
}

void Symbolizer::Report(Napi::Env env, const std::string& maps) {
  std::vector<Mapping> mappings = ParseMaps(maps);
  std::unordered_map<std::string, KnownModule> known;
  fileless_offsets_.clear();
  symbol_shifts_.clear();
  fde_starts_.clear();
  symbol_spans_.clear();
  dwfl_report_begin(dwfl_);
  for (const Mapping& m : mappings) {
    bool vdso = m.path == "[vdso]";
    if (!vdso && (!m.exec || m.path.empty() || m.path[0] != '/')) continue;
    std::string key = m.path + '\n' + std::to_string(m.start) + '\n' +
                      std::to_string(m.offset) + '\n' +
                      std::to_string(m.inode);
    if (known.count(key) != 0) continue;
    auto old = known_.find(key);
    if (old != known_.end()) {
      ReportKnown(old->second);
      known.emplace(key, old->second);
      continue;
    }
    if (vdso) {
      // No file to read it from; reported so its addresses get a module.
      KnownModule km;
      if (dwfl_report_module(dwfl_, "[vdso]", m.start, m.end) != nullptr) {
        km.ok = true;
        km.name = "[vdso]";
        km.low = m.start;
        km.high = m.end;
        km.bias = m.start;
      }
      known.emplace(key, km);
      continue;
    }
    ReportNew(key, m.path, m.start, m.end, m.offset, &known);
  }
  if (dwfl_report_end(dwfl_, nullptr, nullptr) != 0) {
    ThrowCodeError(env, "EDWFL",
                   std::string("dwfl_report_end failed: ") + dwfl_errmsg(-1));
  }
  known_ = std::move(known);
  // Addresses may now belong to other modules; libdwfl keeps the costly
  // per-module state, these caches are cheap to refill.
  if (unwinder_) unwinder_->ModulesChanged();
  cache_.clear();
  starts_.clear();
  functions_.clear();
}

void Symbolizer::ReportKnown(const KnownModule& km) {
  if (!km.ok) return;
  // Same name and range: libdwfl keeps the module and what it loaded.
  // Reporting it twice in one session is harmless.
  Dwfl_Module* mod =
      dwfl_report_module(dwfl_, km.name.c_str(), km.low, km.high);
  if (mod != nullptr && km.fileless_offset) {
    fileless_offsets_[mod] = *km.fileless_offset;
  }
}

void Symbolizer::ReportNew(
    const std::string& key, const std::string& name, uint64_t start,
    uint64_t end, uint64_t offset,
    std::unordered_map<std::string, KnownModule>* known) {
  KnownModule km;
  // Without a readable ELF file, a module with just the mapping's name and
  // range still lets callers print [name+0xfileoffset].
  auto report_fileless = [&]() {
    km.ok = true;
    km.name = name;
    km.low = start;
    km.high = end;
    km.bias = start;
    km.fileless_offset = offset;
    ReportKnown(km);
    known->emplace(key, km);
  };
  std::string original = StripDeleted(name);
  auto mapped = files_.find(name);
  std::string opened = mapped != files_.end() ? mapped->second : search_.root + original;
  ElfFile file;
  if (file.Open(opened) != 0) {
    // The mapped file is gone or invisible to us: accept a user-supplied
    // file with the same name instead.
    bool found = false;
    for (const auto& extra : search_.extra_files) {
      if (Basename(extra.path) == Basename(original) &&
          file.Open(extra.path) == 0) {
        opened = extra.path;
        found = true;
        break;
      }
    }
    if (!found) {
      report_fileless();
      return;
    }
  }
  GElf_Ehdr ehdr;
  auto bias = ComputeBias(file.elf(), start, offset);
  if (gelf_getehdr(file.elf(), &ehdr) == nullptr || !bias) {
    report_fileless();
    return;
  }
  // ET_EXEC is linked at its final address.
  uint64_t load_bias = ehdr.e_type == ET_DYN ? *bias : 0;
  // Another executable mapping of the same loaded object was reported
  // already: reporting it again would make libdwfl drop it as overlapping.
  for (const auto& entry : *known) {
    const KnownModule& other = entry.second;
    if (other.ok && other.name == name && other.bias == load_bias) {
      known->emplace(key, other);
      return;
    }
  }
  int fd = file.ReleaseFd();
  Dwfl_Module* mod = dwfl_report_elf(dwfl_, name.c_str(), opened.c_str(), fd,
                                     load_bias, true);
  if (mod == nullptr) {
    close(fd);
    known->emplace(key, km);
    return;
  }
  // The debug-file callback finds this object through the module's slot.
  void** userdata = nullptr;
  Dwarf_Addr low = 0;
  Dwarf_Addr high = 0;
  dwfl_module_info(mod, &userdata, &low, &high, nullptr, nullptr, nullptr,
                   nullptr);
  if (userdata != nullptr) *userdata = this;
  km.ok = true;
  km.name = name;
  km.low = low;
  km.high = high;
  km.bias = load_bias;
  known->emplace(key, km);
}

int Symbolizer::FindElf(Dwfl_Module* mod, void** userdata,
                        const char* modname, Dwarf_Addr base,
                        char** file_name, Elf** elfp) {
  (void)mod;
  (void)userdata;
  (void)modname;
  (void)base;
  (void)file_name;
  // Modules with a file are reported with it already open (ReportNew), so
  // libdwfl only asks for [vdso] and for mappings whose file we could not
  // open. Opening the path now could pick up a different file that has
  // since replaced the mapped one, so there is nothing to find.
  *elfp = nullptr;
  return -1;
}

int Symbolizer::FindDebuginfo(Dwfl_Module* mod, void** userdata,
                              const char* modname, Dwarf_Addr base,
                              const char* file_name,
                              const char* debuglink_file,
                              GElf_Word debuglink_crc,
                              char** debuginfo_file_name) {
  (void)base;
  auto* self = userdata != nullptr ? static_cast<Symbolizer*>(*userdata)
                                   : nullptr;
  if (self == nullptr) return -1;
  return self->FindDebuginfoFor(mod, modname, file_name, debuglink_file,
                                debuglink_crc, debuginfo_file_name);
}

int Symbolizer::FindDebuginfoFor(Dwfl_Module* mod, const char* modname,
                                 const char* file_name,
                                 const char* debuglink_file,
                                 GElf_Word debuglink_crc,
                                 char** debuginfo_file_name) {
  std::string found;
  // libdwfl asks the same way for the dwz file of a debug file it has
  // loaded: `file_name` is then that debug file, and the name is its
  // .gnu_debugaltlink's.
  if (file_name != nullptr && debuglink_file != nullptr) {
    ElfFile loaded;
    if (loaded.Open(file_name) == 0) {
      std::optional<std::string> alt = AltLinkName(loaded.elf());
      if (alt && *alt == debuglink_file) {
        int fd = FindAltFile(search_, file_name, loaded.elf(), &found);
        if (fd >= 0) {
          *debuginfo_file_name = strdup(found.c_str());
          return fd;
        }
        // Not found: libdw would look for it itself, by plain paths, when
        // it first needs it. Mark it as looked for (see SetAltFile).
        Dwarf_Addr bias = 0;
        Dwarf* dw = dwfl_module_getdwarf(mod, &bias);
        if (dw != nullptr) dwarf_setalt(dw, reinterpret_cast<Dwarf*>(-1));
        return -1;
      }
    }
  }
  DebugTarget target;
  target.opened_path = file_name != nullptr ? file_name : "";
  target.path_in_target = StripDeleted(modname != nullptr ? modname : "");
  target.build_id = BuildIdOf(mod);
  if (debuglink_file != nullptr && debuglink_file[0] != '\0') {
    target.debuglink = debuglink_file;
    target.debuglink_crc = debuglink_crc;
  }
  int fd = FindDebugFile(search_, target, &found);
  if (fd < 0) return -1;
  *debuginfo_file_name = strdup(found.c_str());
  return fd;
}

const Symbolizer::FunctionInfo* Symbolizer::Function(Dwfl_Module* mod,
                                                     uint64_t sym_start,
                                                     const char* sym_name) {
  auto cached = functions_.find(sym_start);
  if (cached != functions_.end()) return &cached->second;
  FunctionInfo info;
  info.name = Demangle(sym_name);
  GElf_Addr bias = 0;
  // The main file, not the debug file: a separate .debug has no code.
  Elf* elf = dwfl_module_getelf(mod, &bias);
  // `push %rbp` then `mov %rsp,%rbp` open the function, or (shrink-wrapped
  // by the compiler) follow an early-exit test within its first bytes; LTO
  // builds schedule other instructions between the two.
  unsigned char bytes[kPrologueWindow];
  size_t n = elf != nullptr
                 ? ReadAtVaddr(elf, sym_start - bias, bytes, kPrologueWindow)
                 : 0;
  static const unsigned char kMovRspRbp[] = {0x48, 0x89, 0xe5};
  if (n >= 1 + sizeof(kMovRspRbp)) {
    info.frame_pointer = false;
    const unsigned char* push = static_cast<const unsigned char*>(std::memchr(bytes, 0x55, n));
    for (size_t i = push != nullptr ? push - bytes + 1 : n; i + sizeof(kMovRspRbp) <= n; i++) {
      if (std::memcmp(bytes + i, kMovRspRbp, sizeof(kMovRspRbp)) == 0) {
        info.frame_pointer = true;
        info.prologue_end = i + sizeof(kMovRspRbp);
        break;
      }
    }
  }
  return &functions_.emplace(sym_start, std::move(info)).first->second;
}

const Symbolizer::Frame& Symbolizer::Lookup(uint64_t addr) {
  auto cached = cache_.find(addr);
  if (cached != cache_.end()) return cached->second;
  if (cache_.size() >= kMaxCachedAddresses) cache_.clear();

  Frame f;
  f.rel_addr = addr;
  Dwfl_Module* mod = dwfl_addrmodule(dwfl_, addr);
  if (mod != nullptr) {
    Dwarf_Addr low = 0;
    dwfl_module_info(mod, nullptr, &low, nullptr, nullptr, nullptr, nullptr,
                     nullptr);
    f.module = mod;
    f.module_base = low;
    GElf_Addr bias = 0;
    Elf* elf = dwfl_module_getelf(mod, &bias);
    if (elf != nullptr) {
      f.rel_addr = addr - bias;
      f.file_offset = VaddrToFileOffset(elf, f.rel_addr);
    } else {
      f.rel_addr = addr - low;
      auto fileless = fileless_offsets_.find(mod);
      if (fileless != fileless_offsets_.end()) {
        f.file_offset = fileless->second + f.rel_addr;
      }
    }
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* sym_name = FunctionSymbol(mod, addr, &offset, &sym);
    if (sym_name != nullptr) {
      f.function = Function(mod, addr - offset, sym_name);
      f.sym_offset = offset;
      GElf_Addr elf_bias = 0;
      Elf* elf = dwfl_module_getelf(mod, &elf_bias);
      unsigned char op = 0;
      if (elf != nullptr && ReadAtVaddr(elf, addr - elf_bias, &op, 1) == 1) {
        f.at_return = op == 0xc3 || op == 0xc2;  // ret, ret imm16
      }
    }
    if (f.function == nullptr && elf != nullptr) f.fde_distance = FdeDistance(mod, elf, f.rel_addr);
    constexpr int64_t kMaxSlot = 2;  // words the frame-pointer sampler reads at %rsp
    std::optional<CfaRule> here = CfaAt(mod, addr);
    std::optional<CfaRule> at_call = CfaAt(mod, addr - 1);
    if (here) f.rbp_frame_here = here->reg == kDwarfRbp;
    if (at_call) f.rbp_frame_at_call = at_call->reg == kDwarfRbp;
    // %rbp still holds the caller's frame where the code has not stored it,
    // has only just pushed it in a frame-pointer prologue (before the mov),
    // or is returning (callee-saved registers are restored by then).
    bool in_prologue = f.function != nullptr && f.function->frame_pointer.value_or(false) &&
                       f.sym_offset < f.function->prologue_end;
    if (here && here->reg == kDwarfSp && (!here->rbp_saved || in_prologue || f.at_return) && here->offset >= 8 &&
        here->offset % 8 == 0 && here->offset / 8 - 1 <= kMaxSlot) {
      f.return_slot = static_cast<uint32_t>(here->offset / 8 - 1);
    }
  }
  return cache_.emplace(addr, f).first->second;
}

// The function symbol holding `addr`, with addr's offset into it, or null.
// libdwfl may return the nearest preceding symbol even when it ends before
// the address; a wrong name is worse than none.
const char* Symbolizer::FunctionSymbol(Dwfl_Module* mod, uint64_t addr, GElf_Off* offset, GElf_Sym* sym) {
  uint64_t at = addr + SymbolShift(mod);
  const SymbolAnswer& answer = AddrSymbol(mod, at);
  if (answer.name == nullptr) return nullptr;
  *sym = answer.sym;
  *offset = at - answer.value;
  if (!IsFunction(*sym) || (sym->st_size != 0 && *offset >= sym->st_size)) return nullptr;
  return answer.name;
}

// dwfl_module_addrinfo reads the module's whole symbol table on each call
// (0.03-0.3 ms for libpython's), and a profile meets new addresses all the
// time. Its answer depends only on which symbols and section hold the
// address, and that set changes only at a symbol's or section's start or
// end: so one answer serves every address between the same two boundaries.
const Symbolizer::SymbolAnswer& Symbolizer::AddrSymbol(Dwfl_Module* mod, uint64_t addr) {
  if (!use_symbol_spans_) {
    static thread_local SymbolAnswer direct;
    GElf_Off offset = 0;
    direct.name = dwfl_module_addrinfo(mod, addr, &offset, &direct.sym, nullptr, nullptr, nullptr);
    direct.value = addr - offset;
    return direct;
  }
  auto known = symbol_spans_.find(mod);
  if (known == symbol_spans_.end()) known = symbol_spans_.emplace(mod, SymbolSpans{SymbolBounds(mod), {}}).first;
  SymbolSpans& spans = known->second;
  size_t next = static_cast<size_t>(std::upper_bound(spans.bounds.begin(), spans.bounds.end(), addr) - spans.bounds.begin());
  // A boundary itself is a span of its own: libdwfl treats an address equal
  // to a symbol's value apart (a sizeless or absolute symbol matches only there).
  size_t span = 2 * next + (next > 0 && spans.bounds[next - 1] == addr ? 1 : 0);
  auto cached = spans.answers.find(span);
  if (cached != spans.answers.end()) return cached->second;
  SymbolAnswer answer;
  GElf_Off offset = 0;
  answer.name = dwfl_module_addrinfo(mod, addr, &offset, &answer.sym, nullptr, nullptr, nullptr);
  answer.value = addr - offset;
  return spans.answers.emplace(span, answer).first->second;
}

// Every address where the set of symbols or sections holding an address can
// change, in libdwfl's placement of them.
std::vector<uint64_t> Symbolizer::SymbolBounds(Dwfl_Module* mod) {
  std::vector<uint64_t> bounds;
  int count = dwfl_module_getsymtab(mod);
  for (int i = 1; i < count; i++) {
    GElf_Sym sym;
    GElf_Addr addr = 0;
    if (dwfl_module_getsym_info(mod, i, &sym, &addr, nullptr, nullptr, nullptr) == nullptr) continue;
    bounds.push_back(addr);
    bounds.push_back(addr + sym.st_size);
  }
  GElf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(mod, &bias);
  for (Elf_Scn* scn = elf != nullptr ? elf_nextscn(elf, nullptr) : nullptr; scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || (shdr.sh_flags & SHF_ALLOC) == 0) continue;
    bounds.push_back(shdr.sh_addr + bias);
    bounds.push_back(shdr.sh_addr + bias + shdr.sh_size);
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

// How far the link-time address `rel` is past the start of the function
// .eh_frame describes around it, if any.
std::optional<uint64_t> Symbolizer::FdeDistance(Dwfl_Module* mod, Elf* elf, uint64_t rel) {
  auto known = fde_starts_.find(mod);
  if (known == fde_starts_.end()) known = fde_starts_.emplace(mod, FdeStarts(elf)).first;
  const std::vector<uint64_t>& starts = known->second;
  auto next = std::upper_bound(starts.begin(), starts.end(), rel);
  if (next == starts.begin()) return std::nullopt;
  return rel - *(next - 1);
}

uint64_t Symbolizer::FrameStart(uint64_t addr) {
  auto cached = starts_.find(addr);
  if (cached != starts_.end()) return cached->second;
  if (starts_.size() >= kMaxCachedAddresses) starts_.clear();
  uint64_t start = addr;
  Dwfl_Module* mod = dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, addr) : nullptr;
  if (mod != nullptr) {
    GElf_Off offset = 0;
    GElf_Sym sym;
    GElf_Addr bias = 0;
    Elf* elf = nullptr;
    if (FunctionSymbol(mod, addr, &offset, &sym) != nullptr) {
      start = addr - offset;
    } else if ((elf = dwfl_module_getelf(mod, &bias)) != nullptr) {
      // Marked by the top bit (user addresses never have it): a function's
      // start names its bytes past its symbol's end (padding) otherwise
      // than the function itself.
      std::optional<uint64_t> distance = FdeDistance(mod, elf, addr - bias);
      if (distance) start = (addr - *distance) | kUnnamedStart;
    }
  }
  starts_.emplace(addr, start);
  return start;
}

// The CFA rule at `addr` when it is a register plus a constant (an
// expression is left unknown), and whether %rbp has a saved copy there.
std::optional<Symbolizer::CfaRule> Symbolizer::CfaAt(Dwfl_Module* mod, uint64_t addr) {
  // .eh_frame, or .debug_frame in a module without one. Where .eh_frame
  // describes no code, compilers and assemblers leave it out of .debug_frame
  // too, and reading that loads (and decompresses) the module's whole debug
  // info: 10 MB for libc's.
  Dwarf_Addr bias = 0;
  Dwarf_CFI* cfi = dwfl_module_eh_cfi(mod, &bias);
  if (cfi == nullptr) cfi = dwfl_module_dwarf_cfi(mod, &bias);
  Dwarf_Frame* frame = nullptr;
  if (cfi == nullptr || dwarf_cfi_addrframe(cfi, addr - bias, &frame) != 0) return std::nullopt;
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  std::optional<CfaRule> rule;
  // A register rule comes back as one DW_OP_bregx.
  if (dwarf_frame_cfa(frame, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_bregx) {
    Dwarf_Op mem[3];
    Dwarf_Op* rbp = nullptr;
    size_t nrbp = 0;
    // No operations: undefined or the same value, never stored by this code.
    bool saved = !(dwarf_frame_register(frame, kDwarfRbp, mem, &rbp, &nrbp) == 0 && nrbp == 0);
    rule = CfaRule{static_cast<unsigned>(ops[0].number), static_cast<int64_t>(ops[0].number2), saved};
  }
  std::free(frame);
  return rule;
}

// libdwfl places a separate debug file's symbols by its own reckoning of how
// the two files line up, which a binary rewritten after linking defeats
// (Debian sid's python3.13 and 3.14 carry an extra segment in front): every
// name is then off by a constant. The symbol table's own values are right,
// so the difference is measured on one function symbol and made up for.
int64_t Symbolizer::SymbolShift(Dwfl_Module* mod) {
  auto known = symbol_shifts_.find(mod);
  if (known != symbol_shifts_.end()) return known->second;
  int64_t shift = 0;
  GElf_Addr main_bias = 0;
  Elf* main_elf = dwfl_module_getelf(mod, &main_bias);
  int count = dwfl_module_getsymtab(mod);
  for (int i = 1; main_elf != nullptr && i < count; i++) {
    GElf_Sym sym;
    GElf_Addr addr = 0;
    Elf* sym_elf = nullptr;
    const char* name = dwfl_module_getsym_info(mod, i, &sym, &addr, nullptr,
                                               &sym_elf, nullptr);
    if (name == nullptr || !IsFunction(sym) || sym.st_value == 0 ||
        sym.st_shndx == SHN_UNDEF) {
      continue;
    }
    // Only a symbol from another file than the main one can be misplaced.
    if (sym_elf != main_elf) {
      shift = static_cast<int64_t>(addr - (sym.st_value + main_bias));
    }
    break;
  }
  symbol_shifts_.emplace(mod, shift);
  return shift;
}

// frameStarts(addrs): FrameStart of each address (what the DWARF sampler
// counts samples by).
Napi::Value Symbolizer::FrameStarts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Live(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array) {
    ThrowTypeError(env, "addrs must be a BigUint64Array");
  }
  auto addrs = info[0].As<Napi::TypedArrayOf<uint64_t>>();
  auto starts = Napi::BigUint64Array::New(env, addrs.ElementLength());
  for (size_t i = 0; i < addrs.ElementLength(); i++) starts[i] = FrameStart(addrs[i]);
  return starts;
}

Napi::Value Symbolizer::Symbolize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Live(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() !=
          napi_biguint64_array) {
    ThrowTypeError(env, "addrs must be a BigUint64Array");
  }
  auto addrs = info[0].As<Napi::TypedArrayOf<uint64_t>>();
  size_t count = addrs.ElementLength();
  Napi::Array result = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) {
    const Frame& f = Lookup(addrs[i]);
    Napi::Object o = Napi::Object::New(env);
    const char* module = f.module == nullptr
                             ? nullptr
                             : dwfl_module_info(f.module, nullptr, nullptr,
                                                nullptr, nullptr, nullptr,
                                                nullptr, nullptr);
    o.Set("module", StringOrNull(env, module));
    o.Set("moduleBase", Napi::BigInt::New(env, f.module_base));
    o.Set("relAddr", Napi::BigInt::New(env, f.rel_addr));
    o.Set("fileOffset", BigIntOrNull(env, f.file_offset));
    o.Set("fdeDistance", f.fde_distance ? Napi::Value(Napi::Number::New(env, static_cast<double>(*f.fde_distance))) : env.Null());
    const FunctionInfo* fn = f.function;
    o.Set("name", fn != nullptr ? Napi::Value(Napi::String::New(env, fn->name))
                                : env.Null());
    o.Set("symOffset",
          Napi::Number::New(env, static_cast<double>(f.sym_offset)));
    // The function (from its symbol's first bytes) sets up a frame pointer.
    std::optional<bool> keeps = fn != nullptr ? fn->frame_pointer : std::nullopt;
    o.Set("functionFramePointer", keeps ? Napi::Value(Napi::Boolean::New(env, *keeps)) : env.Null());
    // As a return address: the caller's frame is found through this one's
    // frame pointer. The CFI says so for the call itself; the prologue
    // stands in where there is none.
    std::optional<bool> at_call = f.rbp_frame_at_call ? f.rbp_frame_at_call : keeps;
    o.Set("framePointer", at_call ? Napi::Value(Napi::Boolean::New(env, *at_call)) : env.Null());
    // For an interrupted (leaf) address: the frame pointer is in place, not
    // before the prologue's mov or at the return, where it still or again
    // holds the caller's and a frame-pointer unwind would skip the caller.
    std::optional<bool> ready = f.rbp_frame_here;
    if (!ready && keeps) ready = *keeps && f.sym_offset >= fn->prologue_end && !f.at_return;
    o.Set("frameReady", ready ? Napi::Value(Napi::Boolean::New(env, *ready)) : env.Null());
    o.Set("returnSlot", f.return_slot ? Napi::Value(Napi::Number::New(env, *f.return_slot)) : env.Null());
    result.Set(static_cast<uint32_t>(i), o);
  }
  return result;
}

Napi::Value Symbolizer::UpdateMaps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Live(env);
  std::string maps = StringArg(info, 0, "maps");
  for (auto& [path, file] : StringMap(env, info[1], "files")) files_[path] = file;
  Report(env, maps);
  return env.Undefined();
}

Napi::Value Symbolizer::Modules(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Dwfl* dwfl = Live(env);
  std::vector<Dwfl_Module*> mods;
  dwfl_getmodules(
      dwfl,
      [](Dwfl_Module* mod, void**, const char*, Dwarf_Addr, void* arg) {
        static_cast<std::vector<Dwfl_Module*>*>(arg)->push_back(mod);
        return static_cast<int>(DWARF_CB_OK);
      },
      &mods, 0);
  Napi::Array result = Napi::Array::New(env, mods.size());
  uint32_t n = 0;
  for (Dwfl_Module* mod : mods) {
    // Loading the symbol table and DWARF runs the debug file search, so
    // the diagnostics show what symbolization will use.
    int symbols = dwfl_module_getsymtab(mod);
    Dwarf_Addr dwbias = 0;
    bool has_dwarf = dwfl_module_getdwarf(mod, &dwbias) != nullptr;
    GElf_Addr bias = 0;
    bool has_elf = dwfl_module_getelf(mod, &bias) != nullptr;
    Dwarf_Addr low = 0;
    Dwarf_Addr high = 0;
    const char* mainfile = nullptr;
    const char* debugfile = nullptr;
    const char* name = dwfl_module_info(mod, nullptr, &low, &high, nullptr,
                                        nullptr, &mainfile, &debugfile);
    std::string build_id = BuildIdOf(mod);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", name != nullptr ? name : "");
    o.Set("low", Napi::BigInt::New(env, uint64_t{low}));
    o.Set("high", Napi::BigInt::New(env, uint64_t{high}));
    o.Set("bias", has_elf ? BigIntOrNull(env, uint64_t{bias}) : env.Null());
    o.Set("buildId", build_id.empty()
                         ? env.Null()
                         : Napi::Value(Napi::String::New(env, build_id)));
    o.Set("hasDebugInfo", has_dwarf);
    o.Set("symbolCount", symbols > 0 ? symbols : 0);
    o.Set("mainFile", StringOrNull(env, mainfile));
    o.Set("debugFile", StringOrNull(env, debugfile));
    result.Set(n++, o);
  }
  return result;
}

Napi::Value Symbolizer::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

}  // namespace mixprof

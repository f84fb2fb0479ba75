#include "dwarf_layout.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <sys/stat.h>

#include <cerrno>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <unistd.h>

#include "debug_search.h"
#include "elf_file.h"
#include "errors.h"

namespace mixprof {

namespace {

// An open debug file. Opening libdw over a large .debug_info is the costly
// part, so a few stay open; stat() detects a file replaced on disk.
struct DwarfFile {
  std::string path;
  struct stat st {};
  ElfFile file;
  Dwarf* dwarf = nullptr;
  // Its dwz file (.gnu_debugaltlink), when it has one and it was found.
  int alt_fd = -1;
  Elf* alt_elf = nullptr;
  Dwarf* alt = nullptr;
  ~DwarfFile() {
    if (dwarf != nullptr) dwarf_end(dwarf);
    if (alt != nullptr) dwarf_end(alt);
    if (alt_elf != nullptr) elf_end(alt_elf);
    if (alt_fd >= 0) close(alt_fd);
  }
};

// What is at `path`, as the readers find it (inside its root, regular files only).
bool StatOfTarget(const std::string& path, struct stat* st) {
  int fd = OpenFileOfTarget(path);
  if (fd < 0) return false;
  int rc = fstat(fd, st);
  close(fd);
  return rc == 0;
}

constexpr size_t kMaxCachedFiles = 4;
// Per thread, so worker_threads never share libdw handles.
thread_local std::list<std::unique_ptr<DwarfFile>> t_cache;

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
         a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

Dwarf* OpenDwarf(Napi::Env env, const std::string& path) {
  struct stat st;
  if (!StatOfTarget(path, &st)) {
    if (errno == kNotRegularErrno) ThrowCodeError(env, "ENOTREG", "not a regular file: " + path);
    ThrowErrno(env, errno, "cannot open " + path);
  }
  for (auto it = t_cache.begin(); it != t_cache.end(); ++it) {
    if ((*it)->path != path) continue;
    if (SameFile((*it)->st, st)) {
      t_cache.splice(t_cache.begin(), t_cache, it);
      return t_cache.front()->dwarf;
    }
    t_cache.erase(it);
    break;
  }
  auto entry = std::make_unique<DwarfFile>();
  entry->path = path;
  entry->st = st;
  int rc = entry->file.Open(path);
  if (rc == ElfFile::kNotElf) {
    ThrowCodeError(env, "ENOTELF", "not an ELF file: " + path);
  }
  if (rc != 0) ThrowErrno(env, rc, "cannot open " + path);
  // libdw decompresses SHF_COMPRESSED and .zdebug sections itself.
  entry->dwarf = dwarf_begin_elf(entry->file.elf(), DWARF_C_READ, nullptr);
  if (entry->dwarf == nullptr) {
    ThrowCodeError(env, "ENODWARF",
                   "no DWARF debug info in " + path + ": " + dwarf_errmsg(-1));
  }
  // Its dwz file from the contained search, never libdw's own (plain opens).
  DebugSearch search;
  search.root = TargetRoot(path);
  SetAltFile(entry->dwarf, search, path, entry->file.elf(), &entry->alt_fd, &entry->alt_elf, &entry->alt);
  t_cache.push_front(std::move(entry));
  if (t_cache.size() > kMaxCachedFiles) t_cache.pop_back();
  return t_cache.front()->dwarf;
}

bool IsAggregate(int tag) {
  return tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
         tag == DW_TAG_class_type;
}

// Type units leave a stub carrying only DW_AT_signature where a type is
// used; the definition is in the unit that signature names.
void FollowSignature(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  Dwarf_Die target;
  if (dwarf_attr(die, DW_AT_signature, &attr) != nullptr &&
      dwarf_formref_die(&attr, &target) != nullptr) {
    *die = target;
  }
}

// Typedefs, qualifiers and type-unit stubs removed.
bool Peel(Dwarf_Die* type, Dwarf_Die* out) {
  if (dwarf_peel_type(type, out) != 0) return false;
  FollowSignature(out);
  return true;
}

// The member's type with typedefs and qualifiers removed.
bool PeeledType(Dwarf_Die* die, Dwarf_Die* out) {
  Dwarf_Attribute attr;
  Dwarf_Die type;
  if (dwarf_attr_integrate(die, DW_AT_type, &attr) == nullptr ||
      dwarf_formref_die(&attr, &type) == nullptr) {
    return false;
  }
  return Peel(&type, out);
}

bool UnsignedAttr(Dwarf_Die* die, unsigned int name, Dwarf_Word* out) {
  Dwarf_Attribute attr;
  return dwarf_attr_integrate(die, name, &attr) != nullptr &&
         dwarf_formudata(&attr, out) == 0;
}

// Byte offset of a member within its direct parent. Absent for union
// members and DWARF 4+ bitfields, meaning 0.
std::optional<Dwarf_Word> MemberLocation(Dwarf_Die* member) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(member, DW_AT_data_member_location, &attr) ==
      nullptr) {
    return Dwarf_Word{0};
  }
  Dwarf_Word value;
  if (dwarf_formudata(&attr, &value) == 0) return value;
  // DWARF 2 producers encode it as an expression: DW_OP_plus_uconst N.
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_getlocation(&attr, &ops, &nops) == 0 && nops == 1 &&
      (ops[0].atom == DW_OP_plus_uconst || ops[0].atom == DW_OP_constu)) {
    return ops[0].number;
  }
  return std::nullopt;
}

// Collects, in one walk over all units, the first complete definition of
// each requested name (struct/union tag or typedef name).
class TypeFinder {
 public:
  explicit TypeFinder(const std::vector<std::string>& names) {
    for (const auto& n : names) {
      if (!n.empty()) pending_.insert(n);
    }
  }

  void Run(Dwarf* dwarf) {
    Dwarf_CU* cu = nullptr;
    Dwarf_CU* next = nullptr;
    Dwarf_Half version = 0;
    uint8_t unit_type = 0;
    Dwarf_Die cudie;
    // Covers .debug_info (DWARF 5 type and partial units included) and
    // then the DWARF 4 .debug_types section.
    while (!pending_.empty() &&
           dwarf_get_units(dwarf, cu, &next, &version, &unit_type, &cudie,
                           nullptr) == 0) {
      cu = next;
      // Split DWARF keeps the real DIEs in .dwo files, which we do not open.
      if (unit_type == DW_UT_skeleton || cudie.addr == nullptr) continue;
      if (!visited_units_.insert(cudie.addr).second) continue;
      WalkScope(&cudie);
    }
  }

  const Dwarf_Die* Find(const std::string& name) const {
    auto it = resolved_.find(name);
    return it == resolved_.end() ? nullptr : &it->second;
  }

  // A complete definition for a struct tag seen during the walk.
  const Dwarf_Die* Complete(std::string_view tag) const {
    auto it = complete_.find(tag);
    return it == complete_.end() ? nullptr : &it->second;
  }

 private:
  void WalkScope(Dwarf_Die* parent) {
    Dwarf_Die child;
    if (dwarf_child(parent, &child) != 0) return;
    do {
      switch (dwarf_tag(&child)) {
        case DW_TAG_structure_type:
        case DW_TAG_union_type:
        case DW_TAG_class_type:
          NoteAggregate(&child);
          break;
        case DW_TAG_typedef:
          NoteTypedef(&child);
          break;
        case DW_TAG_namespace:
          WalkScope(&child);
          break;
        case DW_TAG_imported_unit:
          // dwz moves shared types into partial units, possibly in the
          // .gnu_debugaltlink file, and imports them here.
          WalkImported(&child);
          break;
        default:
          break;
      }
    } while (!pending_.empty() && dwarf_siblingof(&child, &child) == 0);
  }

  void WalkImported(Dwarf_Die* die) {
    Dwarf_Attribute attr;
    Dwarf_Die unit;
    if (dwarf_attr(die, DW_AT_import, &attr) == nullptr ||
        dwarf_formref_die(&attr, &unit) == nullptr) {
      return;
    }
    if (visited_units_.insert(unit.addr).second) WalkScope(&unit);
  }

  void NoteAggregate(Dwarf_Die* die) {
    if (dwarf_hasattr(die, DW_AT_declaration)) return;
    const char* name = dwarf_diename(die);
    if (name == nullptr) return;
    // Names point into libdw's section data, which lives as long as the
    // Dwarf handle, so views are safe as keys.
    auto [it, inserted] = complete_.try_emplace(std::string_view(name), *die);
    if (!inserted) return;
    Resolve(name, *die);
    auto aliases = alias_by_tag_.equal_range(name);
    for (auto a = aliases.first; a != aliases.second; ++a) {
      Resolve(a->second, *die);
    }
  }

  void NoteTypedef(Dwarf_Die* die) {
    const char* name = dwarf_diename(die);
    if (name == nullptr || pending_.count(name) == 0) return;
    Dwarf_Die target;
    if (!Peel(die, &target)) return;
    if (IsAggregate(dwarf_tag(&target)) &&
        dwarf_hasattr(&target, DW_AT_declaration)) {
      // `typedef struct _is PyInterpreterState;` with the body elsewhere.
      const char* tag = dwarf_diename(&target);
      if (tag == nullptr) return;
      if (const Dwarf_Die* def = Complete(tag)) {
        Resolve(name, *def);
      } else {
        alias_by_tag_.emplace(tag, name);
      }
      return;
    }
    Resolve(name, target);
  }

  void Resolve(const std::string& name, const Dwarf_Die& die) {
    if (pending_.erase(name) != 0) resolved_.emplace(name, die);
  }

  std::unordered_set<std::string> pending_;
  std::unordered_map<std::string, Dwarf_Die> resolved_;
  std::unordered_map<std::string_view, Dwarf_Die> complete_;
  std::unordered_multimap<std::string, std::string> alias_by_tag_;
  std::unordered_set<void*> visited_units_;
};

// Finds a member by name directly in `agg` or inside its anonymous
// struct/union members. `container` receives the offset of the aggregate
// that directly holds the member, relative to `agg`.
bool FindMember(Dwarf_Die* agg, std::string_view name, Dwarf_Die* out,
                Dwarf_Word* container, int depth = 0) {
  if (depth > 32) return false;  // guards against malformed cycles
  Dwarf_Die child;
  if (dwarf_child(agg, &child) != 0) return false;
  do {
    int tag = dwarf_tag(&child);
    if (tag != DW_TAG_member && tag != DW_TAG_inheritance) continue;
    // C++ base classes are searched like anonymous members.
    const char* member_name =
        tag == DW_TAG_member ? dwarf_diename(&child) : nullptr;
    if (member_name != nullptr) {
      if (name == member_name) {
        *out = child;
        *container = 0;
        return true;
      }
      continue;
    }
    Dwarf_Die type;
    if (!PeeledType(&child, &type) || !IsAggregate(dwarf_tag(&type))) {
      continue;
    }
    auto base = MemberLocation(&child);
    Dwarf_Word inner = 0;
    if (base && FindMember(&type, name, out, &inner, depth + 1)) {
      *container = *base + inner;
      return true;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

struct MemberLayout {
  Dwarf_Word offset = 0;
  std::optional<Dwarf_Word> size;
  std::optional<Dwarf_Word> bit_offset;
  std::optional<Dwarf_Word> bit_size;
};

std::optional<Dwarf_Word> TypeSize(Dwarf_Die* member) {
  Dwarf_Die type;
  Dwarf_Word size;
  if (PeeledType(member, &type) && dwarf_aggregate_size(&type, &size) == 0) {
    return size;
  }
  return std::nullopt;
}

std::optional<MemberLayout> Describe(Dwarf_Die* member, Dwarf_Word base) {
  auto location = MemberLocation(member);
  if (!location) return std::nullopt;
  MemberLayout layout;
  layout.size = TypeSize(member);
  layout.offset = base + *location;

  Dwarf_Word bit_size;
  if (!UnsignedAttr(member, DW_AT_bit_size, &bit_size)) return layout;
  layout.bit_size = bit_size;

  Dwarf_Word data_bit_offset;
  Dwarf_Word msb_bit_offset;
  if (UnsignedAttr(member, DW_AT_data_bit_offset, &data_bit_offset)) {
    // DWARF 4+: bit position from the start of the parent. Report it
    // against a storage unit the size of the declared type, so a reader
    // can load that unit and shift.
    Dwarf_Word bits = *location * 8 + data_bit_offset;
    Dwarf_Word unit = layout.size.value_or(0);
    Dwarf_Word unit_byte = unit > 0 ? (bits / (unit * 8)) * unit : bits / 8;
    Dwarf_Word shift = bits - unit_byte * 8;
    if (unit == 0 || shift + bit_size > unit * 8) {
      // Packed field straddling units: fall back to byte granularity.
      unit_byte = bits / 8;
      shift = bits % 8;
    }
    layout.offset = base + unit_byte;
    layout.bit_offset = shift;
  } else if (UnsignedAttr(member, DW_AT_bit_offset, &msb_bit_offset)) {
    // DWARF 2/3: offset counted from the most significant bit of a
    // storage unit of DW_AT_byte_size bytes at the member location.
    Dwarf_Word storage = 0;
    if (!UnsignedAttr(member, DW_AT_byte_size, &storage)) {
      storage = layout.size.value_or(0);
    }
    if (storage * 8 < msb_bit_offset + bit_size) return std::nullopt;
    layout.bit_offset = storage * 8 - msb_bit_offset - bit_size;
  } else {
    layout.bit_offset = 0;
  }
  return layout;
}

std::optional<MemberLayout> ResolvePath(const TypeFinder& finder,
                                        Dwarf_Die outer,
                                        const std::string& path) {
  Dwarf_Die current = outer;
  Dwarf_Word base = 0;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view part(path.data() + start,
                          (dot == std::string::npos ? path.size() : dot) -
                              start);
    if (part.empty()) return std::nullopt;
    Dwarf_Die member;
    Dwarf_Word container = 0;
    if (!FindMember(&current, part, &member, &container)) return std::nullopt;
    if (dot == std::string::npos) return Describe(&member, base + container);

    // Descend into a nested struct/union member (not through pointers).
    if (dwarf_hasattr(&member, DW_AT_bit_size)) return std::nullopt;
    auto location = MemberLocation(&member);
    Dwarf_Die type;
    if (!location || !PeeledType(&member, &type) ||
        !IsAggregate(dwarf_tag(&type))) {
      return std::nullopt;
    }
    if (dwarf_hasattr(&type, DW_AT_declaration)) {
      const char* tag = dwarf_diename(&type);
      const Dwarf_Die* def = tag != nullptr ? finder.Complete(tag) : nullptr;
      if (def == nullptr) return std::nullopt;
      type = *def;
    }
    base += container + *location;
    current = type;
    start = dot + 1;
  }
}

struct Request {
  std::string type;
  std::vector<std::string> members;
};

std::vector<Request> ParseRequests(Napi::Env env, Napi::Value value) {
  if (!value.IsArray()) {
    ThrowTypeError(env, "requests must be an array");
  }
  Napi::Array array = value.As<Napi::Array>();
  std::vector<Request> requests;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) ThrowTypeError(env, "each request must be an object");
    Napi::Object obj = item.As<Napi::Object>();
    Napi::Value type = obj.Get("type");
    Napi::Value members = obj.Get("members");
    if (!type.IsString() || !members.IsArray()) {
      ThrowTypeError(env, "request needs type: string and members: string[]");
    }
    Request req;
    req.type = type.As<Napi::String>().Utf8Value();
    Napi::Array list = members.As<Napi::Array>();
    for (uint32_t j = 0; j < list.Length(); j++) {
      Napi::Value m = list.Get(j);
      if (!m.IsString()) ThrowTypeError(env, "member paths must be strings");
      req.members.push_back(m.As<Napi::String>().Utf8Value());
    }
    requests.push_back(std::move(req));
  }
  return requests;
}

Napi::Value Number(Napi::Env env, Dwarf_Word v) {
  return Napi::Number::New(env, static_cast<double>(v));
}

}  // namespace

Napi::Value StructLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "debugPath");
  std::vector<Request> requests =
      ParseRequests(env, info.Length() > 1 ? info[1] : env.Undefined());

  Dwarf* dwarf = OpenDwarf(env, path);
  std::vector<std::string> names;
  names.reserve(requests.size());
  for (const auto& r : requests) names.push_back(r.type);
  TypeFinder finder(names);
  finder.Run(dwarf);

  Napi::Array result = Napi::Array::New(env, requests.size());
  for (size_t i = 0; i < requests.size(); i++) {
    const Request& req = requests[i];
    const Dwarf_Die* found = finder.Find(req.type);
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("type", req.type);
    Dwarf_Word size = 0;
    Dwarf_Die type_die{};
    if (found != nullptr) type_die = *found;
    if (found != nullptr && dwarf_aggregate_size(&type_die, &size) == 0) {
      entry.Set("size", Number(env, size));
    } else {
      entry.Set("size", env.Null());
    }
    Napi::Object members = Napi::Object::New(env);
    for (const auto& member_path : req.members) {
      std::optional<MemberLayout> layout;
      if (found != nullptr && IsAggregate(dwarf_tag(&type_die))) {
        layout = ResolvePath(finder, type_die, member_path);
      }
      if (!layout) {
        members.Set(member_path, env.Null());
        continue;
      }
      Napi::Object m = Napi::Object::New(env);
      m.Set("offset", Number(env, layout->offset));
      m.Set("size", layout->size ? Number(env, *layout->size) : env.Null());
      if (layout->bit_size) {
        m.Set("bitOffset", Number(env, layout->bit_offset.value_or(0)));
        m.Set("bitSize", Number(env, *layout->bit_size));
      }
      members.Set(member_path, m);
    }
    entry.Set("members", members);
    result.Set(static_cast<uint32_t>(i), entry);
  }
  return result;
}

}  // namespace mixprof

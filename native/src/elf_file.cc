#include "elf_file.h"

#include <elf.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "errors.h"

namespace mixprof {

ElfFile& ElfFile::operator=(ElfFile&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    elf_ = other.elf_;
    other.fd_ = -1;
    other.elf_ = nullptr;
  }
  return *this;
}

namespace {

// "/proc/PID/root/rest" -> the root's length, or 0 for any other path.
size_t TargetRootLength(const std::string& path) {
  const std::string proc = "/proc/";
  if (path.compare(0, proc.size(), proc) != 0) return 0;
  size_t i = proc.size();
  size_t digits = i;
  while (i < path.size() && path[i] >= '0' && path[i] <= '9') i++;
  if (i == digits) return 0;
  const std::string root = "/root/";
  if (path.compare(i, root.size(), root) != 0) return 0;
  return i + root.size() - 1;
}

}  // namespace

std::string TargetRoot(const std::string& path) { return path.substr(0, TargetRootLength(path)); }

// A file of another process's root (a container's) is opened inside that
// root: its symbolic links, absolute ones too, resolve there and cannot lead
// to the host's files, as they would through a plain open of
// /proc/PID/root/... (openat2's RESOLVE_IN_ROOT; kernels before 5.6 fall
// back to a plain open). O_PATH opens nothing: a FIFO or device placed where
// a library or debug file is expected is seen for what it is without
// blocking or waking a driver.
int OpenPathOfTarget(const std::string& path) {
  size_t root_length = TargetRootLength(path);
  if (root_length == 0) return open(path.c_str(), O_PATH | O_CLOEXEC);
  std::string root = path.substr(0, root_length);
  int root_fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return -1;
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(syscall(SYS_openat2, root_fd, path.c_str() + root_length, &how, sizeof how));
  int saved = errno;
  close(root_fd);
  if (fd < 0 && saved == ENOSYS) return open(path.c_str(), O_PATH | O_CLOEXEC);
  errno = saved;
  return fd;
}

int OpenFileOfTarget(const std::string& path) {
  int path_fd = OpenPathOfTarget(path);
  if (path_fd < 0) return -1;
  struct stat st;
  if (fstat(path_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int saved = errno;
    close(path_fd);
    errno = S_ISREG(st.st_mode) ? saved : kNotRegularErrno;
    return -1;
  }
  // Reopening through the descriptor's own link reads the very file found.
  std::string self = "/proc/self/fd/" + std::to_string(path_fd);
  int fd = open(self.c_str(), O_RDONLY | O_CLOEXEC);
  int saved = errno;
  close(path_fd);
  errno = saved;
  return fd;
}

std::optional<FileIdentity> IdentifyFileOfTarget(const std::string& path) {
  int path_fd = OpenPathOfTarget(path);
  if (path_fd < 0) return std::nullopt;
  struct stat st;
  int rc = fstat(path_fd, &st);
  close(path_fd);
  if (rc != 0) return std::nullopt;
  return FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), S_ISREG(st.st_mode)};
}

int ElfFile::Open(const std::string& path) {
  Close();
  int fd = OpenFileOfTarget(path);
  if (fd < 0) return errno == kNotRegularErrno ? kNotRegular : errno;
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF) {
    if (elf != nullptr) elf_end(elf);
    close(fd);
    return kNotElf;
  }
  fd_ = fd;
  elf_ = elf;
  return 0;
}

void ElfFile::Close() {
  if (elf_ != nullptr) elf_end(elf_);
  if (fd_ >= 0) close(fd_);
  elf_ = nullptr;
  fd_ = -1;
}

int ElfFile::ReleaseFd() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

std::string HexBytes(const unsigned char* bytes, size_t len) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; i++) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xf]);
  }
  return out;
}

namespace {

std::optional<std::string> BuildIdInNotes(Elf_Data* data) {
  if (data == nullptr) return std::nullopt;
  size_t offset = 0;
  GElf_Nhdr nhdr;
  size_t name_off = 0;
  size_t desc_off = 0;
  while (offset < data->d_size) {
    size_t next = gelf_getnote(data, offset, &nhdr, &name_off, &desc_off);
    if (next == 0) break;
    const char* base = static_cast<const char*>(data->d_buf);
    if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 &&
        std::memcmp(base + name_off, "GNU", 4) == 0 && nhdr.n_descsz > 0) {
      return HexBytes(
          reinterpret_cast<const unsigned char*>(base + desc_off),
          nhdr.n_descsz);
    }
    offset = next;
  }
  return std::nullopt;
}

const char* SectionName(Elf* elf, const GElf_Shdr& shdr) {
  size_t shstrndx;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return nullptr;
  return elf_strptr(elf, shstrndx, shdr.sh_name);
}

Elf_Scn* FindSection(Elf* elf, const char* name, GElf_Shdr* shdr_out) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* n = SectionName(elf, shdr);
    if (n != nullptr && std::strcmp(n, name) == 0) {
      if (shdr_out != nullptr) *shdr_out = shdr;
      return scn;
    }
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> ReadBuildId(Elf* elf) {
  Elf_Scn* scn = nullptr;
  bool had_sections = false;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    had_sections = true;
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_NOTE) {
      continue;
    }
    auto id = BuildIdInNotes(elf_getdata(scn, nullptr));
    if (id) return id;
  }
  if (had_sections) return std::nullopt;
  // Section headers can be stripped; the loader-visible notes remain.
  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) != 0) return std::nullopt;
  for (size_t i = 0; i < phnum; i++) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr ||
        phdr.p_type != PT_NOTE) {
      continue;
    }
    Elf_Type type = phdr.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
    auto id = BuildIdInNotes(
        elf_getdata_rawchunk(elf, phdr.p_offset, phdr.p_filesz, type));
    if (id) return id;
  }
  return std::nullopt;
}

// The contents of a section with data in the file, or null.
static Elf_Data* SectionData(Elf* elf, const char* section) {
  GElf_Shdr shdr;
  Elf_Scn* scn = FindSection(elf, section, &shdr);
  if (scn == nullptr || shdr.sh_type == SHT_NOBITS) return nullptr;
  Elf_Data* data = elf_getdata(scn, nullptr);
  return data == nullptr || data->d_size == 0 ? nullptr : data;
}

std::optional<std::string> ReadDebuglink(Elf* elf) {
  Elf_Data* data = SectionData(elf, ".gnu_debuglink");
  if (data == nullptr) return std::nullopt;
  const char* name = static_cast<const char*>(data->d_buf);
  size_t len = strnlen(name, data->d_size);
  if (len == 0 || len == data->d_size) return std::nullopt;
  return std::string(name, len);
}

std::optional<uint32_t> ReadDebuglinkCrc(Elf* elf) {
  Elf_Data* data = SectionData(elf, ".gnu_debuglink");
  if (data == nullptr) return std::nullopt;
  const unsigned char* bytes = static_cast<const unsigned char*>(data->d_buf);
  // The name, its NUL, padding to 4 bytes, then the CRC (little-endian here).
  size_t at = (strnlen(reinterpret_cast<const char*>(bytes), data->d_size) + 4) & ~size_t{3};
  if (at + 4 > data->d_size) return std::nullopt;
  return uint32_t{bytes[at]} | uint32_t{bytes[at + 1]} << 8 | uint32_t{bytes[at + 2]} << 16 | uint32_t{bytes[at + 3]} << 24;
}

std::optional<AltLink> ReadAltLink(Elf* elf) {
  Elf_Data* data = SectionData(elf, ".gnu_debugaltlink");
  if (data == nullptr) return std::nullopt;
  const char* name = static_cast<const char*>(data->d_buf);
  size_t len = strnlen(name, data->d_size);
  if (len == 0 || len + 1 >= data->d_size) return std::nullopt;
  const auto* id = reinterpret_cast<const unsigned char*>(name + len + 1);
  return AltLink{std::string(name, len), HexBytes(id, data->d_size - len - 1)};
}

bool HasDebugInfo(Elf* elf) {
  for (const char* name : {".debug_info", ".zdebug_info"}) {
    GElf_Shdr shdr;
    if (FindSection(elf, name, &shdr) != nullptr &&
        shdr.sh_type != SHT_NOBITS && shdr.sh_size > 0) {
      return true;
    }
  }
  return false;
}

bool HasSymtab(Elf* elf) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) != nullptr && shdr.sh_type == SHT_SYMTAB &&
        shdr.sh_size > 0) {
      return true;
    }
  }
  return false;
}

size_t ReadAtVaddr(Elf* elf, GElf_Addr vaddr, unsigned char* out,
                   size_t len) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    if ((shdr.sh_flags & SHF_ALLOC) == 0 || shdr.sh_type == SHT_NOBITS ||
        vaddr < shdr.sh_addr || vaddr - shdr.sh_addr >= shdr.sh_size) {
      continue;
    }
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || data->d_buf == nullptr) return 0;
    size_t at = vaddr - shdr.sh_addr;
    if (at >= data->d_size) return 0;
    size_t n = std::min(len, data->d_size - at);
    std::memcpy(out, static_cast<const unsigned char*>(data->d_buf) + at, n);
    return n;
  }
  return 0;
}

std::optional<GElf_Off> VaddrToFileOffset(Elf* elf, GElf_Addr vaddr) {
  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) != 0) return std::nullopt;
  for (size_t i = 0; i < phnum; i++) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr ||
        phdr.p_type != PT_LOAD) {
      continue;
    }
    if (vaddr >= phdr.p_vaddr && vaddr - phdr.p_vaddr < phdr.p_filesz) {
      return phdr.p_offset + (vaddr - phdr.p_vaddr);
    }
  }
  return std::nullopt;
}

ElfFile OpenOrThrow(Napi::Env env, const std::string& path) {
  ElfFile file;
  int rc = file.Open(path);
  if (rc == ElfFile::kNotElf) {
    ThrowCodeError(env, "ENOTELF", "not an ELF file: " + path);
  }
  if (rc == ElfFile::kNotRegular) {
    ThrowCodeError(env, "ENOTREG", "not a regular file: " + path);
  }
  if (rc != 0) ThrowErrno(env, rc, "cannot open " + path);
  return file;
}

namespace {

const char* TypeName(GElf_Half type) {
  switch (type) {
    case ET_EXEC: return "exec";
    case ET_DYN: return "dyn";
    case ET_REL: return "rel";
    case ET_CORE: return "core";
    default: return "other";
  }
}

Napi::Value OptionalString(Napi::Env env,
                           const std::optional<std::string>& s) {
  if (!s) return env.Null();
  return Napi::String::New(env, *s);
}

}  // namespace

Napi::Value FileIdentityOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::optional<FileIdentity> id = IdentifyFileOfTarget(StringArg(info, 0, "path"));
  if (!id) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("dev", Napi::BigInt::New(env, id->dev));
  result.Set("ino", Napi::BigInt::New(env, id->ino));
  result.Set("regular", id->regular);
  return result;
}

Napi::Value ElfInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  ElfFile file = OpenOrThrow(env, path);
  Elf* elf = file.elf();

  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf, &ehdr) == nullptr) {
    ThrowCodeError(env, "ENOTELF", "unreadable ELF header: " + path);
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("type", TypeName(ehdr.e_type));
  result.Set("buildId", OptionalString(env, ReadBuildId(elf)));
  result.Set("debuglink", OptionalString(env, ReadDebuglink(elf)));
  result.Set("hasDebugInfo", HasDebugInfo(elf));
  result.Set("hasSymtab", HasSymtab(elf));

  Napi::Array segments = Napi::Array::New(env);
  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) == 0) {
    uint32_t n = 0;
    for (size_t i = 0; i < phnum; i++) {
      GElf_Phdr phdr;
      if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr ||
          phdr.p_type != PT_LOAD) {
        continue;
      }
      Napi::Object seg = Napi::Object::New(env);
      seg.Set("vaddr", Napi::BigInt::New(env, uint64_t{phdr.p_vaddr}));
      seg.Set("offset", Napi::BigInt::New(env, uint64_t{phdr.p_offset}));
      seg.Set("filesz", Napi::BigInt::New(env, uint64_t{phdr.p_filesz}));
      seg.Set("memsz", Napi::BigInt::New(env, uint64_t{phdr.p_memsz}));
      seg.Set("flags", Napi::Number::New(env, phdr.p_flags));
      segments.Set(n++, seg);
    }
  }
  result.Set("loadSegments", segments);
  return result;
}

namespace {

// The names a lookup asks for (an array of strings).
std::unordered_set<std::string> NameSetArg(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (info.Length() <= index || !info[index].IsArray()) {
    ThrowTypeError(env, "names must be an array of strings");
  }
  Napi::Array names = info[index].As<Napi::Array>();
  std::unordered_set<std::string> wanted;
  for (uint32_t i = 0; i < names.Length(); i++) {
    Napi::Value v = names.Get(i);
    if (!v.IsString()) ThrowTypeError(env, "names must be strings");
    wanted.insert(v.As<Napi::String>().Utf8Value());
  }
  return wanted;
}

}  // namespace

// Sections found by name (3.14+ keeps _asyncio's debug offsets in its own
// section, with no symbol to find them by): link-time address and size.
Napi::Value LookupSections(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::unordered_set<std::string> wanted = NameSetArg(info, 1);
  ElfFile file = OpenOrThrow(env, path);
  Elf* elf = file.elf();
  Napi::Object result = Napi::Object::New(env);
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return result;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr;
       scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (name == nullptr || wanted.count(name) == 0) continue;
    Napi::Object section = Napi::Object::New(env);
    section.Set("address", Napi::BigInt::New(env, uint64_t{shdr.sh_addr}));
    section.Set("size", Napi::Number::New(env, static_cast<double>(shdr.sh_size)));
    result.Set(name, section);
  }
  return result;
}

// The file's SystemTap (USDT) probes, from its .note.stapsdt notes: provider,
// name, link-time address and semaphore (0: none). Notes whose description
// is cut short are skipped.
Napi::Value UsdtProbes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  ElfFile file = OpenOrThrow(env, path);
  Elf* elf = file.elf();
  Napi::Array result = Napi::Array::New(env);
  uint32_t n = 0;
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return result;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr;
       scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_NOTE) continue;
    const char* section = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (section == nullptr || std::strcmp(section, ".note.stapsdt") != 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr) continue;
    size_t offset = 0;
    GElf_Nhdr note;
    size_t name_at = 0;
    size_t desc_at = 0;
    while ((offset = gelf_getnote(data, offset, &note, &name_at, &desc_at)) > 0) {
      // NT_STAPSDT (3), owner "stapsdt": three addresses, then three strings.
      if (note.n_type != 3 || note.n_namesz != 8 ||
          std::memcmp(static_cast<const char*>(data->d_buf) + name_at, "stapsdt", 8) != 0 ||
          note.n_descsz < 3 * 8 + 3) {
        continue;
      }
      const char* desc = static_cast<const char*>(data->d_buf) + desc_at;
      uint64_t words[3];
      std::memcpy(words, desc, sizeof(words));
      const char* text = desc + sizeof(words);
      const char* end = desc + note.n_descsz;
      const char* provider = text;
      const char* provider_end = static_cast<const char*>(std::memchr(provider, 0, end - provider));
      if (provider_end == nullptr) continue;
      const char* name = provider_end + 1;
      const char* name_end = static_cast<const char*>(std::memchr(name, 0, end - name));
      if (name_end == nullptr) continue;
      Napi::Object probe = Napi::Object::New(env);
      probe.Set("provider", Napi::String::New(env, provider, provider_end - provider));
      probe.Set("name", Napi::String::New(env, name, name_end - name));
      probe.Set("address", Napi::BigInt::New(env, words[0]));
      probe.Set("semaphore", Napi::BigInt::New(env, words[2]));
      result.Set(n++, probe);
    }
  }
  return result;
}

Napi::Value LookupSymbols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::unordered_set<std::string> wanted = NameSetArg(info, 1);

  ElfFile file = OpenOrThrow(env, path);
  Elf* elf = file.elf();
  struct Found {
    GElf_Addr value;
    GElf_Xword size;
  };
  std::unordered_map<std::string, Found> found;

  // .symtab first: it is the complete table; .dynsym only has exports.
  for (GElf_Word table : {SHT_SYMTAB, SHT_DYNSYM}) {
    Elf_Scn* scn = nullptr;
    while (found.size() < wanted.size() &&
           (scn = elf_nextscn(elf, scn)) != nullptr) {
      GElf_Shdr shdr;
      if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != table ||
          shdr.sh_entsize == 0) {
        continue;
      }
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (data == nullptr) continue;
      size_t count = shdr.sh_size / shdr.sh_entsize;
      for (size_t i = 0; i < count; i++) {
        GElf_Sym sym;
        if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) break;
        // Undefined entries are imports with no address in this file.
        if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0) continue;
        const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
        if (name == nullptr) continue;
        std::string key(name);
        if (wanted.count(key) != 0 && found.count(key) == 0) {
          found.emplace(std::move(key), Found{sym.st_value, sym.st_size});
        }
      }
    }
  }

  Napi::Object result = Napi::Object::New(env);
  for (const auto& [name, sym] : found) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("value", Napi::BigInt::New(env, uint64_t{sym.value}));
    entry.Set("size", Napi::Number::New(env, static_cast<double>(sym.size)));
    result.Set(name, entry);
  }
  return result;
}

}  // namespace mixprof

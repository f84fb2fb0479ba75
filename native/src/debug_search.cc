#include "debug_search.h"

#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <vector>

#include "elf_file.h"
#include "errors.h"

namespace mixprof {

namespace {

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The CRC-32 of a whole file, as .gnu_debuglink records it (zlib's).
std::optional<uint32_t> FileCrc32(int fd) {
  std::vector<unsigned char> buffer(1 << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  off_t at = 0;
  for (;;) {
    ssize_t n = pread(fd, buffer.data(), buffer.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return static_cast<uint32_t>(crc);
    crc = crc32(crc, buffer.data(), static_cast<uInt>(n));
    at += n;
  }
}

// What makes a candidate the build's debug file.
struct Wanted {
  std::string build_id;             // "" when the file has none
  std::optional<uint32_t> crc;      // a debuglink's, when looked up by its name
  std::string not_this;             // the file itself
};

// Opens `path` (inside its root, regular files only) if it is a debug file of
// the wanted build: a descriptor, or -1.
int OpenCandidate(const std::string& path, const Wanted& wanted) {
  if (path == wanted.not_this) return -1;
  ElfFile file;
  if (file.Open(path) != 0) return -1;
  std::optional<std::string> id = ReadBuildId(file.elf());
  bool same_build = false;
  if (!wanted.build_id.empty() && id) {
    same_build = *id == wanted.build_id;
  } else if (wanted.crc) {
    // Without a build-id on either side, only the CRC says it is this build's.
    same_build = FileCrc32(file.fd()) == wanted.crc;
  }
  if (!same_build) return -1;
  if (!HasDebugInfo(file.elf()) && !HasSymtab(file.elf())) return -1;
  return file.ReleaseFd();
}

// The build-id tree's file under each debug directory, in `roots`.
int OpenByBuildId(const DebugSearch& search, const std::vector<std::string>& roots, const Wanted& wanted, std::string* found) {
  if (wanted.build_id.size() <= 2) return -1;
  std::string rel = "/.build-id/" + wanted.build_id.substr(0, 2) + "/" + wanted.build_id.substr(2) + ".debug";
  for (const auto& dir : search.debug_dirs) {
    for (const auto& root : roots) {
      int fd = OpenCandidate(root + dir + rel, wanted);
      if (fd >= 0) {
        *found = root + dir + rel;
        return fd;
      }
    }
  }
  return -1;
}

int OpenExtra(const DebugSearch& search, const Wanted& wanted, std::string* found) {
  if (wanted.build_id.empty()) return -1;
  for (const auto& extra : search.extra_files) {
    if (!extra.has_debug || extra.build_id != wanted.build_id) continue;
    int fd = OpenCandidate(extra.path, wanted);
    if (fd >= 0) {
      *found = extra.path;
      return fd;
    }
  }
  return -1;
}

// The target's own root first (a container's debug packages), then the host's.
std::vector<std::string> RootsOf(const std::string& root) {
  if (root.empty()) return {""};
  return {root, ""};
}

bool HasDotDot(const std::string& path) {
  size_t at = 0;
  while ((at = path.find("..", at)) != std::string::npos) {
    bool starts = at == 0 || path[at - 1] == '/';
    bool ends = at + 2 == path.size() || path[at + 2] == '/';
    if (starts && ends) return true;
    at += 2;
  }
  return false;
}

// A mapped file's path inside its root. The maps text names files as the
// reader sees them: a chroot under our own root shows as that directory's
// path ("/srv/jail/app/lib.so" for the jail's "/app/lib.so").
std::string PathInRoot(const std::string& root, const std::string& path) {
  if (root.empty()) return path;
  char buffer[4096];
  ssize_t n = readlink(root.c_str(), buffer, sizeof buffer - 1);
  if (n <= 1) return path;  // unreadable, or "/": the same root as ours
  std::string seen(buffer, static_cast<size_t>(n));
  if (path.size() > seen.size() && path.compare(0, seen.size(), seen) == 0 && path[seen.size()] == '/') {
    return path.substr(seen.size());
  }
  return path;
}

}  // namespace

void DebugSearch::AddExtraFiles(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    ExtraDebugFile extra;
    extra.path = path;
    ElfFile file;
    if (file.Open(path) == 0) {
      extra.build_id = ReadBuildId(file.elf());
      extra.has_debug = HasDebugInfo(file.elf()) || HasSymtab(file.elf());
    }
    extra_files.push_back(std::move(extra));
  }
}

bool SafeDebuglinkName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

int FindDebugFile(const DebugSearch& search, const DebugTarget& target, std::string* found) {
  Wanted wanted{target.build_id, std::nullopt, target.opened_path};
  // 1. A user-supplied file for exactly this build.
  int fd = OpenExtra(search, wanted, found);
  if (fd >= 0) return fd;
  // 2. <root><debugDir>/.build-id/xx/rest.debug
  std::vector<std::string> roots = RootsOf(search.root);
  fd = OpenByBuildId(search, roots, wanted, found);
  if (fd >= 0) return fd;
  // 3. The .gnu_debuglink name beside the file, in its .debug/, and under
  // each debug directory at the file's own directory.
  if (!target.debuglink || !SafeDebuglinkName(*target.debuglink)) return -1;
  const std::string& name = *target.debuglink;
  wanted.crc = target.debuglink_crc;
  std::string dir = Dirname(PathInRoot(search.root, target.path_in_target));
  if (dir == "/") dir.clear();
  std::vector<std::string> candidates = {search.root + dir + "/" + name, search.root + dir + "/.debug/" + name};
  for (const auto& debug_dir : search.debug_dirs) {
    for (const auto& root : roots) candidates.push_back(root + debug_dir + dir + "/" + name);
  }
  for (const auto& path : candidates) {
    fd = OpenCandidate(path, wanted);
    if (fd >= 0) {
      *found = path;
      return fd;
    }
  }
  return -1;
}

std::optional<std::string> AltLinkName(Elf* elf) {
  std::optional<AltLink> link = ReadAltLink(elf);
  if (!link) return std::nullopt;
  return link->name;
}

int FindAltFile(const DebugSearch& search, const std::string& debug_path, Elf* debug_elf, std::string* found) {
  std::optional<AltLink> link = ReadAltLink(debug_elf);
  if (!link || link->build_id.empty()) return -1;
  // Always by build-id: a name alone could be anything the debug file's maker wanted.
  Wanted wanted{link->build_id, std::nullopt, debug_path};
  int fd = OpenExtra(search, wanted, found);
  if (fd >= 0) return fd;
  // The root the debug file was found in, then the host's.
  bool in_root = !search.root.empty() && debug_path.compare(0, search.root.size() + 1, search.root + "/") == 0;
  std::vector<std::string> roots = RootsOf(in_root ? search.root : "");
  fd = OpenByBuildId(search, roots, wanted, found);
  if (fd >= 0) return fd;
  std::vector<std::string> candidates;
  if (link->name[0] == '/') {
    if (!HasDotDot(link->name)) {
      for (const auto& root : roots) candidates.push_back(root + link->name);
    }
  } else {
    // Relative to the debug file (inside its root: RESOLVE_IN_ROOT keeps ".." there).
    candidates.push_back(Dirname(debug_path) + "/" + link->name);
  }
  for (const auto& path : candidates) {
    fd = OpenCandidate(path, wanted);
    if (fd >= 0) {
      *found = path;
      return fd;
    }
  }
  return -1;
}

void SetAltFile(Dwarf* dw, const DebugSearch& search, const std::string& debug_path, Elf* debug_elf, int* alt_fd, Elf** alt_elf, Dwarf** alt) {
  *alt_fd = -1;
  *alt_elf = nullptr;
  *alt = nullptr;
  // Without the section libdw has nothing to look for.
  if (!ReadAltLink(debug_elf)) return;
  std::string found;
  int fd = FindAltFile(search, debug_path, debug_elf, &found);
  if (fd >= 0) {
    Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
    Dwarf* dwarf = elf != nullptr ? dwarf_begin_elf(elf, DWARF_C_READ, nullptr) : nullptr;
    if (dwarf != nullptr) {
      dwarf_setalt(dw, dwarf);
      *alt_fd = fd;
      *alt_elf = elf;
      *alt = dwarf;
      return;
    }
    if (elf != nullptr) elf_end(elf);
    close(fd);
  }
  // libdw's own mark for "looked, nothing there" (dwarf_getalt then returns
  // NULL at once): the forms that refer into the dwz file read as missing.
  dwarf_setalt(dw, reinterpret_cast<Dwarf*>(-1));
}

Napi::Value FindDebugFileOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) ThrowTypeError(env, "findDebugFile(query): query must be an object");
  Napi::Object query = info[0].As<Napi::Object>();
  auto text = [&](const char* key) -> std::string {
    Napi::Value v = query.Get(key);
    if (!v.IsString()) ThrowTypeError(env, std::string("findDebugFile: query.") + key + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  };
  auto strings = [&](const char* key) -> std::vector<std::string> {
    std::vector<std::string> out;
    Napi::Value v = query.Get(key);
    if (v.IsUndefined() || v.IsNull()) return out;
    if (!v.IsArray()) ThrowTypeError(env, std::string("findDebugFile: query.") + key + " must be an array");
    Napi::Array array = v.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); i++) {
      Napi::Value item = array.Get(i);
      if (!item.IsString()) ThrowTypeError(env, std::string("findDebugFile: query.") + key + " must hold strings");
      out.push_back(item.As<Napi::String>().Utf8Value());
    }
    return out;
  };
  DebugTarget target;
  target.opened_path = text("file");
  target.path_in_target = text("pathInTarget");
  DebugSearch search;
  search.root = text("root");
  while (!search.root.empty() && search.root.back() == '/') search.root.pop_back();
  if (!query.Get("debugDirs").IsUndefined()) search.debug_dirs = strings("debugDirs");
  search.AddExtraFiles(strings("extraFiles"));
  ElfFile file;
  int rc = file.Open(target.opened_path);
  if (rc == ElfFile::kNotElf) ThrowCodeError(env, "ENOTELF", "not an ELF file: " + target.opened_path);
  if (rc == ElfFile::kNotRegular) ThrowCodeError(env, "ENOTREG", "not a regular file: " + target.opened_path);
  if (rc != 0) ThrowErrno(env, rc, "cannot open " + target.opened_path);
  target.build_id = ReadBuildId(file.elf()).value_or("");
  target.debuglink = ReadDebuglink(file.elf());
  target.debuglink_crc = ReadDebuglinkCrc(file.elf()).value_or(0);
  std::string found;
  int fd = FindDebugFile(search, target, &found);
  if (fd < 0) return env.Null();
  close(fd);
  return Napi::String::New(env, found);
}

}  // namespace mixprof

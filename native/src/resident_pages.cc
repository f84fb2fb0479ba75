#include "resident_pages.h"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace mixprof {
namespace {

struct FileMapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool read_only_private_file = false;
  uint64_t rss_kb = 0;
  uint64_t private_copies_kb = 0;  // Anonymous: pages written (relocations, breakpoints)
  bool locked = false;
};

// /proc/self/smaps: a header line per mapping, then "Key: value kB" lines.
std::vector<FileMapping> ReadSmaps() {
  std::vector<FileMapping> out;
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  while (std::getline(smaps, line)) {
    unsigned long start = 0;
    unsigned long end = 0;
    char perms[8] = {0};
    unsigned long offset = 0;
    char dev[16] = {0};
    unsigned long inode = 0;
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx %15s %lu %n", &start, &end, perms, &offset, dev, &inode, &path_at) >= 6 &&
        line.find(':') > line.find(' ')) {
      FileMapping m;
      m.start = start;
      m.end = end;
      const char* path = path_at > 0 && static_cast<size_t>(path_at) <= line.size() ? line.c_str() + path_at : "";
      m.read_only_private_file = inode != 0 && path[0] == '/' && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p';
      out.push_back(m);
      continue;
    }
    if (out.empty()) continue;
    unsigned long kb = 0;
    if (std::sscanf(line.c_str(), "Rss: %lu kB", &kb) == 1) out.back().rss_kb = kb;
    else if (std::sscanf(line.c_str(), "Anonymous: %lu kB", &kb) == 1) out.back().private_copies_kb = kb;
    else if (std::sscanf(line.c_str(), "Locked: %lu kB", &kb) == 1) out.back().locked = kb != 0;
  }
  return out;
}

}  // namespace

Napi::Value ReleaseStartupPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t file_bytes = 0;
  uint32_t mappings = 0;
  for (const FileMapping& m : ReadSmaps()) {
    // A page with a private copy (written once, as relocations are) would
    // lose its contents: such mappings are left whole.
    if (!m.read_only_private_file || m.rss_kb == 0 || m.private_copies_kb != 0 || m.locked) continue;
    if (madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) == 0) {
      file_bytes += m.rss_kb * 1024;
      mappings++;
    }
  }
  malloc_trim(0);
  Napi::Object result = Napi::Object::New(env);
  result.Set("fileBytes", Napi::Number::New(env, static_cast<double>(file_bytes)));
  result.Set("mappings", Napi::Number::New(env, mappings));
  return result;
}

}  // namespace mixprof

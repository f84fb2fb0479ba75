// Finding the separate debug file of an ELF file, and the dwz file a debug
// file shares (.gnu_debugaltlink). The only place debug files are looked
// for: libdwfl's and libdw's own searches open plain paths that a target's
// files can name (a FIFO that blocks the open for good, a link out of a
// container, a debuglink of "../../.."), so they are never run.
//
// Every candidate is opened as OpenFileOfTarget opens files: inside the
// target's root, regular files only. It must be the build's: the same
// build-id, or without one the CRC its debuglink records; and it must have
// DWARF or a symbol table.
#pragma once

#include <elfutils/libdw.h>
#include <libelf.h>
#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mixprof {

// A user-supplied file (-d), identified up front by build-id.
struct ExtraDebugFile {
  std::string path;
  std::optional<std::string> build_id;
  bool has_debug = false;  // .debug_info or .symtab
};

struct DebugSearch {
  // The target's root as reachable from here ("/proc/PID/root"), or "" for
  // the host's. Debug directories are looked up there first, then on the host.
  std::string root;
  std::vector<std::string> debug_dirs = {"/usr/lib/debug"};
  std::vector<ExtraDebugFile> extra_files;

  void AddExtraFiles(const std::vector<std::string>& paths);
};

// The ELF file whose debug file is wanted.
struct DebugTarget {
  // The file as opened from here (a path under the root, or /proc/PID/map_files/...).
  std::string opened_path;
  // Its path inside the target's mount namespace, as in /proc/PID/maps.
  std::string path_in_target;
  // Lowercase hex, "" when it has none.
  std::string build_id;
  // .gnu_debuglink's name and CRC, when it has one.
  std::optional<std::string> debuglink;
  uint32_t debuglink_crc = 0;
};

// A debuglink name is a file name: no directory part, not "." or "..".
bool SafeDebuglinkName(const std::string& name);

// Opens the debug file of `target`: a descriptor and its path in *found, or -1.
int FindDebugFile(const DebugSearch& search, const DebugTarget& target, std::string* found);

// The dwz file named by the .gnu_debugaltlink of `debug_elf` (opened from
// `debug_path`), found by that section's build-id: a descriptor and its path
// in *found; -1 when there is none or it cannot be found.
int FindAltFile(const DebugSearch& search, const std::string& debug_path, Elf* debug_elf, std::string* found);

// The name .gnu_debugaltlink gives, if `elf` has one.
std::optional<std::string> AltLinkName(Elf* elf);

// Makes sure libdw never looks for `dw`'s dwz file itself: gives it the one
// FindAltFile finds (opened into *alt_elf/*alt, which the caller ends after
// `dw`), or marks it as having none (libdw's own "searched, nothing" mark).
void SetAltFile(Dwarf* dw, const DebugSearch& search, const std::string& debug_path, Elf* debug_elf, int* alt_fd, Elf** alt_elf, Dwarf** alt);

// findDebugFile({file, pathInTarget, root, extraFiles, debugDirs}): the path
// of the file's separate debug file, or null.
Napi::Value FindDebugFileOf(const Napi::CallbackInfo& info);

}  // namespace mixprof

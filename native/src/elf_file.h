// ELF facts read with libelf/gelf: identity, load segments, symbols.
#pragma once

#include <gelf.h>
#include <libelf.h>
#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace mixprof {

// An open, read-only ELF file. Move-only; closes on destruction.
class ElfFile {
 public:
  ElfFile() = default;
  ~ElfFile() { Close(); }
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;
  ElfFile(ElfFile&& other) noexcept { *this = std::move(other); }
  ElfFile& operator=(ElfFile&& other) noexcept;

  // Returns 0 on success, an errno value if the file cannot be opened, or
  // kNotElf if it is not an ELF file, kNotRegular if it is not a regular
  // file (a FIFO, a device, a directory).
  static constexpr int kNotElf = -1;
  static constexpr int kNotRegular = -2;
  int Open(const std::string& path);
  void Close();

  Elf* elf() const { return elf_; }
  int fd() const { return fd_; }
  // Hands the descriptor to a new owner (libdwfl consumes it).
  int ReleaseFd();

 private:
  int fd_ = -1;
  Elf* elf_ = nullptr;
};

// errno of OpenFileOfTarget for a path that is not a regular file: one that
// opening a path never gives otherwise.
constexpr int kNotRegularErrno = EMEDIUMTYPE;

// Opens a regular file read-only; one under /proc/PID/root/ is resolved
// inside that root (symbolic links cannot lead out of it). A file
// descriptor, or -1 and errno (kNotRegularErrno for a FIFO, device or directory).
int OpenFileOfTarget(const std::string& path);

// "/proc/PID/root" for a path under it, else "".
std::string TargetRoot(const std::string& path);

struct FileIdentity {
  uint64_t dev;
  uint64_t ino;
  bool regular;
};
// What OpenFileOfTarget would find at path, without opening it; nullopt if nothing.
std::optional<FileIdentity> IdentifyFileOfTarget(const std::string& path);

// Lowercase hex of NT_GNU_BUILD_ID, from note sections or PT_NOTE segments.
std::optional<std::string> ReadBuildId(Elf* elf);
// File name stored in .gnu_debuglink.
std::optional<std::string> ReadDebuglink(Elf* elf);
// The CRC-32 of the debug file that .gnu_debuglink records.
std::optional<uint32_t> ReadDebuglinkCrc(Elf* elf);
// .gnu_debugaltlink: the dwz file shared by several debug files, by name and build-id.
struct AltLink {
  std::string name;
  std::string build_id;
};
std::optional<AltLink> ReadAltLink(Elf* elf);
// True if .debug_info (or .zdebug_info) has content, not just SHT_NOBITS.
bool HasDebugInfo(Elf* elf);
bool HasSymtab(Elf* elf);
// Finds the section holding link-time address `vaddr` with file content and
// copies up to `len` bytes from there; returns how many were copied.
size_t ReadAtVaddr(Elf* elf, GElf_Addr vaddr, unsigned char* out,
                   size_t len);
// Maps a link-time address to its file offset through PT_LOAD segments.
std::optional<GElf_Off> VaddrToFileOffset(Elf* elf, GElf_Addr vaddr);

// Opens path as ElfFile::Open does, throwing a coded JS error on failure.
ElfFile OpenOrThrow(Napi::Env env, const std::string& path);

std::string HexBytes(const unsigned char* bytes, size_t len);

Napi::Value ElfInfo(const Napi::CallbackInfo& info);
// fileIdentity(path): {dev, ino, regular} of what the readers would open, or null.
Napi::Value FileIdentityOf(const Napi::CallbackInfo& info);
Napi::Value LookupSymbols(const Napi::CallbackInfo& info);
Napi::Value LookupSections(const Napi::CallbackInfo& info);
// SystemTap (USDT) probes named in the file's .note.stapsdt.
Napi::Value UsdtProbes(const Napi::CallbackInfo& info);

}  // namespace mixprof

#include "function_parts.h"

#include <gelf.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "elf_file.h"
#include "errors.h"

namespace mixprof {

namespace {

// Jumps from the body seen into one range before it counts as a part: the
// eval loop's cold part gets hundreds, a stray rel32 that looks like a jump
// lands in a random range once.
constexpr int kMinJumps = 4;
// Bodies larger than this are not scanned (the eval loop is ~100 KiB).
constexpr uint64_t kMaxBody = 4u << 20;

int32_t Rel32(const unsigned char* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

// The first address of every function range .eh_frame describes, sorted,
// from .eh_frame_hdr's search table (what unwinders binary-search). Only
// the table encoding linkers write (DW_EH_PE_datarel | DW_EH_PE_sdata4).
std::vector<uint64_t> FdeStarts(Elf* elf) {
  std::vector<uint64_t> starts;
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return starts;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_PROGBITS) continue;
    const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (name == nullptr || std::strcmp(name, ".eh_frame_hdr") != 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || data->d_buf == nullptr || data->d_size < 12) return starts;
    const auto* p = static_cast<const unsigned char*>(data->d_buf);
    constexpr unsigned char kDatarelSdata4 = 0x3b;
    constexpr unsigned char kUdata4 = 0x03;
    // version 1, eh_frame_ptr (any 4-byte encoding), fde_count as udata4.
    if (p[0] != 1 || (p[1] & 0x0f) != 0x0b || p[2] != kUdata4 || p[3] != kDatarelSdata4) {
      return starts;
    }
    uint32_t count = 0;
    std::memcpy(&count, p + 8, sizeof count);
    if (12 + uint64_t{count} * 8 > data->d_size) return starts;
    starts.reserve(count);
    for (uint32_t i = 0; i < count; i++) {
      starts.push_back(shdr.sh_addr + static_cast<int64_t>(Rel32(p + 12 + i * 8)));
    }
    std::sort(starts.begin(), starts.end());
    return starts;
  }
  return starts;
}

std::vector<AddressRange> FunctionParts(Elf* elf, uint64_t start,
                                        uint64_t size) {
  std::vector<AddressRange> parts;
  if (size == 0 || size > kMaxBody) return parts;
  std::vector<unsigned char> body(size);
  if (ReadAtVaddr(elf, start, body.data(), size) != size) return parts;
  std::vector<uint64_t> starts = FdeStarts(elf);
  if (starts.empty()) return parts;
  const uint64_t end = start + size;
  std::map<size_t, int> jumps;  // index in starts -> jumps into that range
  for (size_t i = 0; i + 5 <= size; i++) {
    size_t len = 0;
    if (body[i] == 0xe9) {
      len = 5;  // jmp rel32
    } else if (body[i] == 0x0f && i + 6 <= size && (body[i + 1] & 0xf0) == 0x80) {
      len = 6;  // jcc rel32
    } else {
      continue;
    }
    uint64_t target = start + i + len + static_cast<int64_t>(Rel32(&body[i + len - 4]));
    if (target >= start && target < end) continue;
    auto next = std::upper_bound(starts.begin(), starts.end(), target);
    if (next == starts.begin() || next == starts.end()) continue;
    size_t k = static_cast<size_t>(next - starts.begin()) - 1;
    // A jump to a range's first byte is a tail call to another function.
    if (target == starts[k] || (starts[k] < end && *next > start)) continue;
    jumps[k]++;
  }
  for (const auto& [k, count] : jumps) {
    if (count >= kMinJumps) parts.push_back({starts[k], starts[k + 1]});
  }
  return parts;
}

Napi::Value FunctionPartsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  uint64_t start = BigIntArg(info, 1, "start");
  if (info.Length() < 3 || !info[2].IsNumber()) ThrowTypeError(env, "size must be a number");
  double size = info[2].As<Napi::Number>().DoubleValue();
  if (!(size >= 0)) ThrowRangeError(env, "size must not be negative");
  ElfFile file = OpenOrThrow(env, path);
  std::vector<AddressRange> parts = FunctionParts(file.elf(), start, static_cast<uint64_t>(size));
  Napi::Array result = Napi::Array::New(env, parts.size());
  for (size_t i = 0; i < parts.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("start", Napi::BigInt::New(env, parts[i].start));
    o.Set("end", Napi::BigInt::New(env, parts[i].end));
    result.Set(static_cast<uint32_t>(i), o);
  }
  return result;
}

}  // namespace mixprof

// The kernel's text symbols from /proc/kallsyms, for naming the raw kernel
// addresses both samplers deliver. Parsed here rather than in JavaScript:
// the file is over a hundred thousand lines (5 MB), and a byte loop in
// JavaScript took about 100 ms of CPU and 15 MiB of transient heap at
// start-up, against about 10 ms and the table alone here.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mixprof {

// Text symbols ("t"/"T") in the top 2 GiB, whose high 32 bits are all ones:
// the low 32 bits are enough to sort and search. Sorted by address, ties in
// file order; a symbol's name is names[name_starts[i], name_ends[i]).
struct KallsymsTable {
  std::vector<uint32_t> starts;
  std::vector<uint32_t> name_starts;
  std::vector<uint32_t> name_ends;
  std::string names;
};

// Takes the file a chunk at a time, cut anywhere.
class KallsymsParser {
 public:
  void Push(const char* data, size_t size);
  KallsymsTable Finish();

 private:
  void Line(const char* line, size_t size);
  KallsymsTable table_;
  std::string rest_;  // the start of a line the last chunk cut
};

// parseKallsyms(chunks: Uint8Array[]): the table of the text given, taken
// chunk by chunk as the file is.
Napi::Value ParseKallsymsOf(const Napi::CallbackInfo& info);
// readKallsyms(): the table of /proc/kallsyms, read on a worker thread (the
// kernel takes tens of milliseconds to write it out); a promise of the
// table, or of null when it cannot be read.
Napi::Value ReadKallsyms(const Napi::CallbackInfo& info);
// readKallsymsSync(): the same, on this thread, for when it is needed at once.
Napi::Value ReadKallsymsSync(const Napi::CallbackInfo& info);

}  // namespace mixprof

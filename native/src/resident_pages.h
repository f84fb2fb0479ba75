// Gives back the pages mixprof's start-up touched and sampling does not
// need: node's start-up runs code and reads data that a long run never
// touches again (20-30 MiB of node's own binary), and the ELF files read
// while attaching stay mapped.
#pragma once

#include <napi.h>

namespace mixprof {

// releaseStartupPages(): drops this process's mappings of pages that are the
// file's own bytes (read-only private file mappings holding no private copy)
// and returns freed malloc memory to the kernel. Dropped pages stay in the
// page cache and come back on the next touch, so nothing is lost but the
// mapping. Returns {fileBytes, mappings}: what was mapped before.
Napi::Value ReleaseStartupPages(const Napi::CallbackInfo& info);

}  // namespace mixprof

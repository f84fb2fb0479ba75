// Reads another process's memory with process_vm_readv.
#pragma once

#include <napi.h>

namespace mixprof {

Napi::Value ReadMemory(const Napi::CallbackInfo& info);
Napi::Value ReadMemoryBatch(const Napi::CallbackInfo& info);

}  // namespace mixprof

// walkImage(): the DWARF sampler's Python walk over a memory image, for tests
// that hold it to the TypeScript reference walk without root.
#pragma once

#include <napi.h>

namespace mixprof {

Napi::Value WalkImage(const Napi::CallbackInfo& info);

}  // namespace mixprof

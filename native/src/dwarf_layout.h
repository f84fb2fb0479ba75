// Struct/union member layouts read from DWARF with libdw.
#pragma once

#include <napi.h>

namespace mixprof {

Napi::Value StructLayout(const Napi::CallbackInfo& info);

}  // namespace mixprof

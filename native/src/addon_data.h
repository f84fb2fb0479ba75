// Per-environment state of the addon: constructors other classes check
// their arguments against.
#pragma once

#include <napi.h>

namespace mixprof {

struct AddonData {
  Napi::FunctionReference symbolizer;
};

}  // namespace mixprof

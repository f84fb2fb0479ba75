// File descriptor flags Node has no call for.
#pragma once

#include <napi.h>

namespace mixprof {

// setBlocking(fd): clears O_NONBLOCK, so that a write from the thread pool
// waits for a slow reader instead of failing with EAGAIN. Throws on failure.
Napi::Value SetBlocking(const Napi::CallbackInfo& info);

}  // namespace mixprof

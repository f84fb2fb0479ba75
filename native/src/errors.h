// Error helpers shared by all exports.
#pragma once

#include <napi.h>

#include <cstring>
#include <string>

namespace mixprof {

// Throws a JS Error with a machine-readable `code`, so TypeScript can branch
// on the code instead of parsing messages.
[[noreturn]] inline void ThrowCodeError(Napi::Env env, const char* code,
                                        const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  throw error;
}

// Symbolic errno name ("ENOENT"), used as the `code` of file errors.
inline const char* ErrnoCode(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "EIO";
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, int err,
                                    const std::string& what) {
  ThrowCodeError(env, ErrnoCode(err), what + ": " + std::strerror(err));
}

[[noreturn]] inline void ThrowTypeError(Napi::Env env,
                                        const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

[[noreturn]] inline void ThrowRangeError(Napi::Env env,
                                         const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

// Argument readers: throw TypeError instead of silently coercing.
inline std::string StringArg(const Napi::CallbackInfo& info, size_t i,
                             const char* name) {
  if (info.Length() <= i || !info[i].IsString()) {
    ThrowTypeError(info.Env(), std::string(name) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

inline uint64_t BigIntArg(const Napi::CallbackInfo& info, size_t i,
                          const char* name) {
  if (info.Length() <= i || !info[i].IsBigInt()) {
    ThrowTypeError(info.Env(), std::string(name) + " must be a bigint");
  }
  bool lossless = false;
  uint64_t value = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) {
    ThrowRangeError(info.Env(), std::string(name) + " must fit in 64 bits");
  }
  return value;
}

}  // namespace mixprof

#include "descriptors.h"

#include <fcntl.h>

#include <cerrno>

#include "errors.h"

namespace mixprof {

Napi::Value SetBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowTypeError(env, "fd must be a number");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || ((flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)) {
    ThrowErrno(env, errno, "cannot make descriptor " + std::to_string(fd) + " blocking");
  }
  return env.Undefined();
}

}  // namespace mixprof

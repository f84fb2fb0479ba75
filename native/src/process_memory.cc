#include "process_memory.h"

#include <limits.h>
#include <sys/uio.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "errors.h"

namespace mixprof {

namespace {

constexpr uint32_t kMaxRegion = 16u << 20;  // 16 MiB per region
constexpr size_t kMaxIov = IOV_MAX;         // kernel limit per call

pid_t PidArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowTypeError(info.Env(), "pid must be a number");
  }
  double pid = info[0].As<Napi::Number>().DoubleValue();
  if (!(pid >= 1 && pid <= INT_MAX) || std::floor(pid) != pid) {
    ThrowRangeError(info.Env(), "pid must be a positive integer");
  }
  return static_cast<pid_t>(pid);
}

void CheckLength(Napi::Env env, double length) {
  if (!(length >= 0 && length <= kMaxRegion) ||
      std::floor(length) != length) {
    char shown[64];
    std::snprintf(shown, sizeof shown, "%.17g", length);
    ThrowRangeError(env, std::string("length must be an integer in [0, ") +
                             std::to_string(kMaxRegion) + "], got " + shown);
  }
}

// Errors after which no other region of this process can be read either.
bool ProcessWideError(int err) {
  return err == ESRCH || err == EPERM || err == EINVAL;
}

}  // namespace

Napi::Value ReadMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = PidArg(info);
  uint64_t addr = BigIntArg(info, 1, "addr");
  if (info.Length() < 3 || !info[2].IsNumber()) {
    ThrowTypeError(env, "length must be a number");
  }
  double length = info[2].As<Napi::Number>().DoubleValue();
  CheckLength(env, length);
  size_t len = static_cast<size_t>(length);
  Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::New(env, len);
  if (len == 0) return buffer;
  struct iovec local = {buffer.Data(), len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n != static_cast<ssize_t>(len)) return env.Null();
  return buffer;
}

Napi::Value ReadMemoryBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = PidArg(info);
  if (info.Length() < 3 || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
    ThrowTypeError(env, "addrs must be a BigUint64Array, lengths a Uint32Array");
  }
  Napi::TypedArray addrs_arg = info[1].As<Napi::TypedArray>();
  Napi::TypedArray lengths_arg = info[2].As<Napi::TypedArray>();
  if (addrs_arg.TypedArrayType() != napi_biguint64_array ||
      lengths_arg.TypedArrayType() != napi_uint32_array) {
    ThrowTypeError(env, "addrs must be a BigUint64Array, lengths a Uint32Array");
  }
  auto addrs = addrs_arg.As<Napi::TypedArrayOf<uint64_t>>();
  auto lengths = lengths_arg.As<Napi::TypedArrayOf<uint32_t>>();
  size_t count = addrs.ElementLength();
  if (lengths.ElementLength() != count) {
    ThrowRangeError(env, "addrs and lengths must have the same length");
  }
  for (size_t i = 0; i < count; i++) CheckLength(env, lengths[i]);

  // Read straight into the result buffers to avoid a copy.
  std::vector<Napi::Buffer<uint8_t>> buffers;
  buffers.reserve(count);
  for (size_t i = 0; i < count; i++) {
    buffers.push_back(Napi::Buffer<uint8_t>::New(env, lengths[i]));
  }
  std::vector<bool> ok(count, false);

  std::vector<struct iovec> local;
  std::vector<struct iovec> remote;
  std::vector<size_t> index;  // iovec slot -> region
  size_t next = 0;
  bool process_gone = false;
  while (next < count && !process_gone) {
    local.clear();
    remote.clear();
    index.clear();
    size_t i = next;
    for (; i < count && local.size() < kMaxIov; i++) {
      if (lengths[i] == 0) {
        ok[i] = true;
        continue;
      }
      local.push_back({buffers[i].Data(), lengths[i]});
      remote.push_back({reinterpret_cast<void*>(addrs[i]), lengths[i]});
      index.push_back(i);
    }
    next = i;
    if (local.empty()) break;

    ssize_t n = process_vm_readv(pid, local.data(), local.size(),
                                 remote.data(), remote.size(), 0);
    if (n < 0) {
      if (ProcessWideError(errno)) {
        process_gone = true;
        break;
      }
      // Nothing was copied: the first region is unreadable. Go on with
      // the ones after it.
      next = index[0] + 1;
      continue;
    }
    // The kernel stops at the first unreadable region; everything before
    // it is complete. Resume right after the failed one.
    size_t done = static_cast<size_t>(n);
    for (size_t slot = 0; slot < index.size(); slot++) {
      size_t len = local[slot].iov_len;
      if (done < len) {
        next = index[slot] + 1;
        break;
      }
      done -= len;
      ok[index[slot]] = true;
    }
  }

  Napi::Array result = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) {
    result.Set(static_cast<uint32_t>(i),
               ok[i] ? Napi::Value(buffers[i]) : env.Null());
  }
  return result;
}

}  // namespace mixprof

// walkImage(config, regions, key, seed): runs bpf/python-walk.h's walk (built
// for user space in walk_image.c) over the given memory regions.
#include "walk_image_binding.h"

#include <cstring>
#include <memory>
#include <vector>

#include "errors.h"
#include "walk_image.h"

namespace mixprof {

Napi::Value WalkImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsArray()) {
    ThrowTypeError(env, "walkImage(config: Uint8Array, regions: {address, bytes}[], key, seed)");
  }
  Napi::Uint8Array packed = info[0].As<Napi::Uint8Array>();
  if (packed.ByteLength() != sizeof(walk_config)) {
    ThrowRangeError(env, "config must be " + std::to_string(sizeof(walk_config)) + " bytes (packWalkConfig)");
  }
  walk_config config;
  std::memcpy(&config, packed.Data(), sizeof config);

  // The regions' bytes stay owned by their typed arrays, held by info for the call.
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<image_region> regions;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list[i];
    if (!item.IsObject()) ThrowTypeError(env, "regions must be objects {address: bigint, bytes: Uint8Array}");
    Napi::Object region = item.As<Napi::Object>();
    Napi::Value address = region.Get("address");
    Napi::Value bytes = region.Get("bytes");
    if (!address.IsBigInt() || !bytes.IsTypedArray()) ThrowTypeError(env, "regions must be objects {address: bigint, bytes: Uint8Array}");
    bool lossless = false;
    Napi::Uint8Array data = bytes.As<Napi::Uint8Array>();
    regions.push_back({address.As<Napi::BigInt>().Uint64Value(&lossless), data.ByteLength(), data.Data()});
  }
  const uint64_t key = BigIntArg(info, 2, "key");
  const uint64_t seed = BigIntArg(info, 3, "seed");

  memory_image image{regions.data(), regions.size()};
  auto chain = std::make_unique<chain_record>();
  const uint64_t ts = mixprof_walk_image(&config, &image, key, seed, chain.get());

  Napi::Object result = Napi::Object::New(env);
  result.Set("threadState", Napi::BigInt::New(env, ts));
  if (ts == 0 || chain->depth == 0) {
    result.Set("chain", env.Null());
    return result;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("hash", Napi::BigInt::New(env, static_cast<uint64_t>(chain->hash)));
  out.Set("depth", Napi::Number::New(env, chain->depth));
  out.Set("truncated", Napi::Boolean::New(env, chain->truncated != 0));
  Napi::Array frames = Napi::Array::New(env, chain->depth);
  for (uint32_t i = 0; i < chain->depth; i++) {
    const python_frame& f = chain->frames[i];
    Napi::Object frame = Napi::Object::New(env);
    frame.Set("code", Napi::BigInt::New(env, static_cast<uint64_t>(f.code)));
    frame.Set("instr", Napi::BigInt::New(env, static_cast<uint64_t>(f.instr)));
    frame.Set("flags", Napi::BigInt::New(env, static_cast<uint64_t>(f.flags)));
    frame.Set("firstLineNo", Napi::Number::New(env, static_cast<double>(f.first_line)));
    frames.Set(i, frame);
  }
  out.Set("frames", frames);
  result.Set("chain", out);
  return result;
}

}  // namespace mixprof

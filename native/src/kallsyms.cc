#include "kallsyms.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

namespace mixprof {
namespace {

int HexValue(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

std::optional<KallsymsTable> ReadFile(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  KallsymsParser parser;
  std::vector<char> chunk(1 << 16);
  for (;;) {
    ssize_t n = read(fd, chunk.data(), chunk.size());
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    parser.Push(chunk.data(), static_cast<size_t>(n));
  }
  close(fd);
  return parser.Finish();
}

// The table's storage handed to JavaScript as it is, not copied.
template <typename T>
Napi::Value Adopt(Napi::Env env, T&& storage, size_t bytes) {
  if (bytes == 0) return Napi::ArrayBuffer::New(env, 0);
  auto* owned = new T(std::move(storage));
  return Napi::ArrayBuffer::New(
      env, const_cast<void*>(static_cast<const void*>(owned->data())), bytes,
      [](Napi::Env, void*, T* hint) { delete hint; }, owned);
}

Napi::Object ToObject(Napi::Env env, KallsymsTable&& table) {
  const size_t count = table.starts.size();
  auto u32 = [&](std::vector<uint32_t>&& v) {
    Napi::ArrayBuffer buffer = Adopt(env, std::move(v), count * sizeof(uint32_t)).As<Napi::ArrayBuffer>();
    return Napi::Uint32Array::New(env, count, buffer, 0);
  };
  const size_t name_bytes = table.names.size();
  Napi::ArrayBuffer names = Adopt(env, std::move(table.names), name_bytes).As<Napi::ArrayBuffer>();
  Napi::Object out = Napi::Object::New(env);
  out.Set("starts", u32(std::move(table.starts)));
  out.Set("nameStarts", u32(std::move(table.name_starts)));
  out.Set("nameEnds", u32(std::move(table.name_ends)));
  out.Set("names", Napi::Uint8Array::New(env, name_bytes, names, 0));
  return out;
}

class ReadWorker : public Napi::AsyncWorker {
 public:
  explicit ReadWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { table_ = ReadFile("/proc/kallsyms"); }
  void OnOK() override {
    Napi::Env env = Env();
    deferred_.Resolve(table_ ? Napi::Value(ToObject(env, std::move(*table_))) : env.Null());
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::optional<KallsymsTable> table_;
};

}  // namespace

void KallsymsParser::Push(const char* data, size_t size) {
  size_t at = 0;
  if (!rest_.empty()) {
    // Only the line the last chunk cut is joined, not the whole chunk.
    const void* newline = std::memchr(data, '\n', size);
    if (newline == nullptr) {
      rest_.append(data, size);
      return;
    }
    const size_t end = static_cast<const char*>(newline) - data;
    rest_.append(data, end);
    Line(rest_.data(), rest_.size());
    rest_.clear();
    at = end + 1;
  }
  while (at < size) {
    const void* newline = std::memchr(data + at, '\n', size - at);
    if (newline == nullptr) break;
    const size_t end = static_cast<const char*>(newline) - data;
    Line(data + at, end - at);
    at = end + 1;
  }
  rest_.assign(data + at, size - at);
}

void KallsymsParser::Line(const char* line, size_t size) {
  // 16 hex digits, a space, the type, a space, the name (then "\t[module]").
  if (size <= 19 || line[16] != ' ' || (line[17] != 't' && line[17] != 'T')) return;
  for (int i = 0; i < 8; i++)
    if ((line[i] | 0x20) != 'f') return;
  uint32_t low = 0;
  for (int i = 8; i < 16; i++) low = low * 16 + static_cast<uint32_t>(HexValue(line[i]));
  size_t name_end = 19;
  while (name_end < size && line[name_end] != '\t') name_end++;
  table_.name_starts.push_back(static_cast<uint32_t>(table_.names.size()));
  table_.names.append(line + 19, name_end - 19);
  table_.name_ends.push_back(static_cast<uint32_t>(table_.names.size()));
  table_.starts.push_back(low);
}

KallsymsTable KallsymsParser::Finish() {
  if (!rest_.empty()) {
    Line(rest_.data(), rest_.size());
    rest_.clear();
  }
  const size_t count = table_.starts.size();
  // By address, ties in file order.
  std::vector<uint64_t> keys(count);
  for (size_t i = 0; i < count; i++) keys[i] = (static_cast<uint64_t>(table_.starts[i]) << 32) | i;
  std::sort(keys.begin(), keys.end());
  KallsymsTable sorted;
  sorted.starts.resize(count);
  sorted.name_starts.resize(count);
  sorted.name_ends.resize(count);
  for (size_t j = 0; j < count; j++) {
    const size_t i = static_cast<uint32_t>(keys[j]);
    sorted.starts[j] = table_.starts[i];
    sorted.name_starts[j] = table_.name_starts[i];
    sorted.name_ends[j] = table_.name_ends[i];
  }
  sorted.names = std::move(table_.names);
  sorted.names.shrink_to_fit();
  table_ = KallsymsTable();
  return sorted;
}

Napi::Value ParseKallsymsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "parseKallsyms(chunks: Uint8Array[])");
  Napi::Array chunks = info[0].As<Napi::Array>();
  KallsymsParser parser;
  for (uint32_t i = 0; i < chunks.Length(); i++) {
    Napi::Value chunk = chunks.Get(i);
    if (!chunk.IsTypedArray()) throw Napi::TypeError::New(env, "parseKallsyms(chunks: Uint8Array[])");
    Napi::Uint8Array bytes = chunk.As<Napi::Uint8Array>();
    parser.Push(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
  }
  return ToObject(env, parser.Finish());
}

Napi::Value ReadKallsyms(const Napi::CallbackInfo& info) {
  auto* worker = new ReadWorker(info.Env());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value ReadKallsymsSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::optional<KallsymsTable> table = ReadFile("/proc/kallsyms");
  return table ? Napi::Value(ToObject(env, std::move(*table))) : env.Null();
}

}  // namespace mixprof

#include "dwarf_sampler.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <unordered_set>

#include "addon_data.h"
#include "errors.h"

extern "C" {
#include "../../bpf/dwarf-sampler.h"
}

namespace mixprof {

namespace {

// libbpf's messages, kept so a failure can say why (the verifier's last
// lines); printed nowhere otherwise.
std::deque<std::string>& LibbpfLog() {
  static std::deque<std::string> log;
  return log;
}

// libbpf's warnings, line by line: a verifier log comes as one message of
// many lines, whose last ones say why the program was refused.
int KeepLibbpfMessage(enum libbpf_print_level level, const char* format,
                      va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<size_t>(n));
  auto& log = LibbpfLog();
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) log.emplace_back(text.substr(start, end - start) + "\n");
    if (log.size() > 12) log.pop_front();
    start = end + 1;
  }
  return n;
}

std::string LibbpfTail() {
  std::string out;
  for (const auto& line : LibbpfLog()) out += line;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

[[noreturn]] void ThrowLibbpf(Napi::Env env, int err, const std::string& what) {
  err = std::abs(err);
  std::string tail = LibbpfTail();
  ThrowCodeError(env, ErrnoCode(err),
                 what + ": " + std::strerror(err) +
                     (tail.empty() ? "" : "\n" + tail));
}

double NumberOption(Napi::Env env, const Napi::Object& options,
                    const char* name, double low, double high) {
  Napi::Value v = options.Get(name);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= low && d <= high) || std::floor(d) != d) {
    ThrowRangeError(env, std::string("options.") + name +
                             " must be an integer in [" +
                             std::to_string(static_cast<int64_t>(low)) + ", " +
                             std::to_string(static_cast<int64_t>(high)) + "]");
  }
  return d;
}

// options.python: struct walk_config's bytes, packed by mixprof from its one
// list of the walk's fields (src/bpf/walk-fields.ts), copied as they are.
void FillPythonConfig(Napi::Env env, const Napi::Value& py, sampler_config* cfg) {
  if (!py.IsTypedArray() || py.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "options.python must be a Uint8Array (struct walk_config)");
  }
  auto bytes = py.As<Napi::Uint8Array>();
  if (bytes.ByteLength() != sizeof(walk_config)) {
    ThrowRangeError(env, "options.python holds " + std::to_string(bytes.ByteLength()) +
                             " bytes; struct walk_config has " + std::to_string(sizeof(walk_config)));
  }
  std::memcpy(&cfg->walk, bytes.Data(), sizeof(walk_config));
  if (cfg->walk.max_depth < 1 || cfg->walk.max_depth > MAX_PYTHON_DEPTH) {
    ThrowRangeError(env, "options.python: max_depth must be in [1, " + std::to_string(MAX_PYTHON_DEPTH) + "]");
  }
  if (cfg->walk.max_threads < 1 || cfg->walk.max_threads > 4096) {
    ThrowRangeError(env, "options.python: max_threads must be in [1, 4096]");
  }
  cfg->python = 1;
}

// Distinct records kept numbered (DwarfSampler::stacks_) unless told.
constexpr double kDefaultRecordsKept = 2048;

Napi::Value U64Array(Napi::Env env, const std::vector<uint64_t>& values) {
  auto array = Napi::TypedArrayOf<uint64_t>::New(env, values.size(),
                                                 napi_biguint64_array);
  if (!values.empty()) {
    std::memcpy(array.Data(), values.data(), values.size() * sizeof(uint64_t));
  }
  return array;
}

}  // namespace

Napi::Function DwarfSampler::Define(Napi::Env env) {
  return DefineClass(env, "DwarfSampler",
                     {
                         InstanceMethod("start", &DwarfSampler::Start),
                         InstanceMethod("poll", &DwarfSampler::Poll),
                         InstanceMethod("stop", &DwarfSampler::Stop),
                         InstanceMethod("follows", &DwarfSampler::Follows),
                         InstanceMethod("adopt", &DwarfSampler::Adopt),
                         InstanceMethod("unwindWith", &DwarfSampler::UnwindWith),
                         InstanceMethod("close", &DwarfSampler::Close),
                     });
}

DwarfSampler::DwarfSampler(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<DwarfSampler>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowTypeError(env, "DwarfSampler needs an options object");
  }
  Napi::Object options = info[0].As<Napi::Object>();
  std::string object_path = options.Get("object").IsString()
                                ? options.Get("object").As<Napi::String>().Utf8Value()
                                : "";
  if (object_path.empty()) ThrowTypeError(env, "options.object must be a path");
  pid_ = static_cast<pid_t>(NumberOption(env, options, "pid", 1, INT32_MAX));
  hz_ = static_cast<int>(NumberOption(env, options, "hz", 1, 100000));
  running_max_age_ns_ = 5 * 1000000000ULL / (2 * static_cast<uint64_t>(hz_));
  max_frames_ = static_cast<size_t>(
      NumberOption(env, options, "maxFrames", 1, 4096));
  double stack_bytes =
      NumberOption(env, options, "stackBytes", STACK_CHUNK, MAX_STACK_BYTES);
  if (std::fmod(stack_bytes, STACK_CHUNK) != 0) {
    ThrowRangeError(env, "options.stackBytes must be a multiple of " +
                             std::to_string(STACK_CHUNK));
  }
  records_kept_ = options.Has("recordsKept")
                      ? static_cast<size_t>(NumberOption(env, options, "recordsKept", 16, 1 << 20))
                      : static_cast<size_t>(kDefaultRecordsKept);
  wall_ = options.Get("wall").ToBoolean();
  per_thread_ = !options.Has("perThread") || options.Get("perThread").ToBoolean();
  timeline_ = options.Has("timeline") && options.Get("timeline").ToBoolean();
  follow_ = options.Get("follow").ToBoolean();
  if (options.Has("unwinder")) {
    std::string unwinder = options.Get("unwinder").ToString().Utf8Value();
    if (unwinder != "kernel" && unwinder != "tables" && unwinder != "libdwfl") {
      ThrowRangeError(env, "options.unwinder must be 'kernel', 'tables' or 'libdwfl'");
    }
    kernel_unwind_ = unwinder == "kernel";
    table_unwind_ = unwinder != "libdwfl";
  }
  check_unwind_ = options.Get("checkUnwind").ToBoolean();
  skew_cfi_rows_ = options.Get("skewCfiRows").ToBoolean();
  // A dump's: the first pass's samples are told from the later ones' by their count.
  if (options.Has("firstPassWeight")) {
    first_pass_weight_ = static_cast<uint32_t>(NumberOption(env, options, "firstPassWeight", 1, 1 << 24));
  }
  // A test's fault: the first passes fail as a failed bpf_iter_create does.
  if (options.Has("failWallPasses")) {
    fail_wall_passes_ = static_cast<uint32_t>(NumberOption(env, options, "failWallPasses", 0, 1e9));
  }
  double ring_mib = NumberOption(env, options, "ringMiB", 1, 1024);
  if ((static_cast<uint32_t>(ring_mib) & (static_cast<uint32_t>(ring_mib) - 1)) != 0) {
    ThrowRangeError(env, "options.ringMiB must be a power of two");
  }

  Napi::Value sym = options.Get("symbolizer");
  auto* data = env.GetInstanceData<AddonData>();
  if (!sym.IsObject() || data == nullptr ||
      !sym.As<Napi::Object>().InstanceOf(data->symbolizer.Value())) {
    ThrowTypeError(env, "options.symbolizer must be a Symbolizer");
  }
  symbolizer_ = Napi::ObjectWrap<Symbolizer>::Unwrap(sym.As<Napi::Object>());
  symbolizer_ref_ = Napi::Persistent(sym.As<Napi::Object>());

  sampler_config cfg{};
  cfg.target_pid = static_cast<uint32_t>(pid_);
  cfg.stack_bytes = static_cast<uint32_t>(stack_bytes);
  cfg.follow = follow_ ? 1 : 0;
  cfg.kernel_unwind = kernel_unwind_ ? 1 : 0;
  cfg.check_unwind = kernel_unwind_ && check_unwind_ ? 1 : 0;
  Napi::Value py = options.Get("python");
  if (!py.IsUndefined() && !py.IsNull()) FillPythonConfig(env, py, &cfg);

  libbpf_set_print(KeepLibbpfMessage);
  LibbpfLog().clear();
  object_ = bpf_object__open_file(object_path.c_str(), nullptr);
  int err = libbpf_get_error(object_);
  if (err != 0) {
    object_ = nullptr;
    ThrowLibbpf(env, err, "cannot open " + object_path);
  }
  try {
    bpf_map* rodata = nullptr;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, object_) {
      const char* name = bpf_map__name(map);
      if (bpf_map__is_internal(map) && std::strstr(name, ".rodata") != nullptr) rodata = map;
    }
    size_t size = 0;
    if (rodata == nullptr || bpf_map__initial_value(rodata, &size) == nullptr ||
        size != sizeof(cfg)) {
      ThrowCodeError(env, "EBPFOBJECT",
                     object_path + " does not match this addon (rebuild it)");
    }
    if ((err = bpf_map__set_initial_value(rodata, &cfg, sizeof(cfg))) != 0) {
      ThrowLibbpf(env, err, "cannot configure the sampler");
    }
    int cpus = libbpf_num_possible_cpus();
    bpf_map* scratch = bpf_object__find_map_by_name(object_, "sample_scratch");
    bpf_map* records = bpf_object__find_map_by_name(object_, "records");
    bpf_map* dropped = bpf_object__find_map_by_name(object_, "dropped");
    program_ = bpf_object__find_program_by_name(object_, "sample");
    wall_program_ = bpf_object__find_program_by_name(object_, "wall_tick");
    if (cpus <= 0 || scratch == nullptr || records == nullptr ||
        dropped == nullptr || program_ == nullptr || wall_program_ == nullptr) {
      ThrowCodeError(env, "EBPFOBJECT",
                     object_path + " does not match this addon (rebuild it)");
    }
    bpf_map__set_max_entries(scratch, static_cast<uint32_t>(cpus));
    // Not loaded at all unless asked for: it needs a kernel with sleepable iterators.
    if (!wall_) bpf_program__set_autoload(wall_program_, false);
    for (const char* name : {"on_fork", "on_exit", "on_exec"}) {
      bpf_program* p = bpf_object__find_program_by_name(object_, name);
      if (p == nullptr) {
        ThrowCodeError(env, "EBPFOBJECT",
                       object_path + " does not match this addon (rebuild it)");
      }
      // The target's own exit is always watched: it ends the span of its samples.
      if (follow_ || std::strcmp(name, "on_exit") == 0) process_programs_.push_back(p);
      else bpf_program__set_autoload(p, false);
    }
    bpf_map__set_max_entries(records, static_cast<uint32_t>(ring_mib) << 20);
    bpf_map* cfi_rows = bpf_object__find_map_by_name(object_, "cfi_rows");
    bpf_map* cfi_pages = bpf_object__find_map_by_name(object_, "cfi_pages");
    bpf_map* unwind_modules = bpf_object__find_map_by_name(object_, "unwind_modules");
    if (cfi_rows == nullptr || cfi_pages == nullptr || unwind_modules == nullptr) {
      ThrowCodeError(env, "EBPFOBJECT", object_path + " does not match this addon (rebuild it)");
    }
    // Kernel memory for the rows only when they are used (16 bytes a row).
    if (kernel_unwind_) {
      bpf_map__set_max_entries(cfi_rows, MAX_CFI_ROWS);
      bpf_map__set_max_entries(cfi_pages, MAX_CFI_PAGES);
    }
    if ((err = bpf_object__load(object_)) != 0) {
      ThrowLibbpf(env, err, "cannot load the sampler into the kernel");
    }
    // Loading parsed the kernel's BTF (tens of megabytes, freed since):
    // handed back to the system, or the heap keeps that size for the run.
    malloc_trim(0);
    dropped_fd_ = bpf_map__fd(dropped);
    if (kernel_unwind_) {
      cfi_rows_fd_ = bpf_map__fd(cfi_rows);
      cfi_pages_fd_ = bpf_map__fd(cfi_pages);
      unwind_modules_fd_ = bpf_map__fd(unwind_modules);
    }
    bpf_map* wall_pass = bpf_object__find_map_by_name(object_, "wall_pass");
    wall_pass_fd_ = wall_pass != nullptr ? bpf_map__fd(wall_pass) : -1;
    bpf_map* followed = bpf_object__find_map_by_name(object_, "followed");
    followed_fd_ = followed != nullptr ? bpf_map__fd(followed) : -1;
    bpf_map* followed_changes = bpf_object__find_map_by_name(object_, "followed_changes");
    followed_changes_fd_ = followed_changes != nullptr ? bpf_map__fd(followed_changes) : -1;
    ring_ = ring_buffer__new(bpf_map__fd(records), &DwarfSampler::OnRecord,
                             this, nullptr);
    if (ring_ == nullptr) ThrowLibbpf(env, errno, "cannot open the ring buffer");
  } catch (...) {
    Release();
    throw;
  }
}

DwarfSampler::~DwarfSampler() { Release(); }

void DwarfSampler::Detach() {
  if (ticker_.joinable()) {
    ticking_ = false;
    ticker_.join();
  }
  // The ticker has stopped: its links are the caller's now.
  for (const auto& [pid, link] : wall_links_) bpf_link__destroy(link);
  wall_links_.clear();
  for (bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
  for (int fd : perf_fds_) close(fd);
  perf_fds_.clear();
}

void DwarfSampler::Release() {
  Detach();
  if (ring_ != nullptr) ring_buffer__free(ring_);
  ring_ = nullptr;
  if (object_ != nullptr) bpf_object__close(object_);
  object_ = nullptr;
  cfi_rows_fd_ = -1;
  cfi_pages_fd_ = -1;
  unwind_modules_fd_ = -1;
  program_ = nullptr;
  wall_program_ = nullptr;
  process_programs_.clear();
  symbolizer_ = nullptr;
  if (!symbolizer_ref_.IsEmpty()) symbolizer_ref_.Reset();
  process_symbolizers_.clear();
}

Napi::Value DwarfSampler::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (object_ == nullptr) ThrowCodeError(env, "ECLOSED", "DwarfSampler is closed");
  if (!links_.empty()) return env.Undefined();
  int cpus = libbpf_num_possible_cpus();
  for (int cpu = 0; cpu < cpus; cpu++) {
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.freq = 1;
    attr.sample_freq = static_cast<uint64_t>(hz_);
    int fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, -1, cpu, -1,
                                      PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) {
      if (errno == ENODEV) continue;  // a possible CPU that is offline
      int saved = errno;
      Detach();
      ThrowErrno(env, saved, "perf_event_open on CPU " + std::to_string(cpu));
    }
    perf_fds_.push_back(fd);
    bpf_link* link = bpf_program__attach_perf_event(program_, fd);
    int err = libbpf_get_error(link);
    if (err != 0) {
      Detach();
      ThrowLibbpf(env, err, "cannot attach the sampler to CPU " + std::to_string(cpu));
    }
    links_.push_back(link);
  }
  // Before the clock: a fork from the target's first sample on is seen.
  for (bpf_program* p : process_programs_) {
    bpf_link* link = bpf_program__attach(p);
    int err = libbpf_get_error(link);
    if (err != 0) {
      Detach();
      ThrowLibbpf(env, err, "cannot watch the target's exit and forks");
    }
    links_.push_back(link);
  }
  if (wall_) {
    int err = WatchWall(static_cast<uint32_t>(pid_));
    if (err != 0) {
      Detach();
      ThrowLibbpf(env, err, "cannot attach the wall-clock sampler");
    }
    ticking_ = true;
    ticker_ = std::thread(&DwarfSampler::TickWallClock, this);
    // Named here, before Start returns: mixprof's priority policy finds it by
    // this name right after (src/priority.ts), perhaps before it runs.
    pthread_setname_np(ticker_.native_handle(), "mixprof-wall");
  }
  return env.Undefined();
}

// A link of the wall-clock iterator limited to pid's threads. 0, or the libbpf error.
int DwarfSampler::WatchWall(uint32_t pid) {
  union bpf_iter_link_info info {};
  info.task.pid = pid;
  bpf_iter_attach_opts opts{};
  opts.sz = sizeof(opts);
  opts.link_info = &info;
  opts.link_info_len = sizeof(info);
  bpf_link* link = bpf_program__attach_iter(wall_program_, &opts);
  int err = libbpf_get_error(link);
  if (err != 0) return err;
  wall_links_.emplace(pid, link);
  return 0;
}

// The links of the ticker's passes made to match the processes followed
// now: the target's, and one per followed process (an ended one's goes: its
// PID may be reused). Runs on the ticker, when the followed map changed.
void DwarfSampler::SyncWallLinks() {
  std::unordered_set<uint32_t> wanted{static_cast<uint32_t>(pid_)};
  uint32_t key = 0;
  uint32_t next = 0;
  const uint32_t* at = nullptr;
  while (followed_fd_ >= 0 && bpf_map_get_next_key(followed_fd_, at, &next) == 0 && wanted.size() <= MAX_FOLLOWED) {
    wanted.insert(next);
    key = next;
    at = &key;
  }
  for (auto it = wall_links_.begin(); it != wall_links_.end();) {
    if (wanted.count(it->first) != 0) {
      ++it;
      continue;
    }
    bpf_link__destroy(it->second);
    it = wall_links_.erase(it);
  }
  for (uint32_t pid : wanted) {
    if (wall_links_.count(pid) == 0 && WatchWall(pid) != 0) tick_errors_++;
  }
}

// Runs the iterator over the target's threads hz times a second, on an
// absolute schedule so that a slow pass does not stretch the period.
void DwarfSampler::TickWallClock() {
  // Named (by Start) for mixprof's priority policy: this thread keeps the attach
  // priority (src/priority.ts), so that passes keep their schedule on a busy machine.
  const int64_t period = 1000000000LL / hz_;
  timespec next{};
  clock_gettime(CLOCK_MONOTONIC, &next);
  char buffer[64];
  // The clock periods this pass stands for: more than 1 after passes were skipped.
  uint32_t weight = first_pass_weight_;
  const uint32_t zero = 0;
  uint64_t seen_changes = 0;
  while (ticking_) {
    if (wall_pass_fd_ >= 0) bpf_map_update_elem(wall_pass_fd_, &zero, &weight, BPF_ANY);
    weight = 1;
    if (follow_ && followed_changes_fd_ >= 0) {
      uint64_t changes = 0;
      if (bpf_map_lookup_elem(followed_changes_fd_, &zero, &changes) == 0 && changes != seen_changes) {
        seen_changes = changes;
        SyncWallLinks();
      }
    }
    for (const auto& [pid, link] : wall_links_) {
      int fd = -1;
      if (fail_wall_passes_ > 0) {
        fail_wall_passes_--;
      } else {
        fd = bpf_iter_create(bpf_link__fd(link));
      }
      if (fd < 0) {
        tick_errors_++;
        continue;
      }
      // The program prints nothing: reading runs it over every thread once.
      while (read(fd, buffer, sizeof buffer) > 0) {
      }
      close(fd);
    }
    next.tv_nsec += period;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    // Fallen behind by more than a second (the machine stalled): skip ahead,
    // do not burst; the next pass counts the periods skipped.
    if (now.tv_sec > next.tv_sec + 1) {
      int64_t behind = (now.tv_sec - next.tv_sec) * 1000000000LL + (now.tv_nsec - next.tv_nsec);
      weight += static_cast<uint32_t>(std::min<int64_t>(behind / period, 60LL * hz_));
      next = now;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
}

Napi::Value DwarfSampler::Stop(const Napi::CallbackInfo& info) {
  Detach();
  return info.Env().Undefined();
}

// Whether pid is sampled as a process followed from the target (forked
// from it, and not exec'd since): asked of the kernel's map, so it is exact
// even before the fork's record is polled.
Napi::Value DwarfSampler::Follows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowTypeError(env, "follows(pid) needs a PID");
  uint32_t pid = info[0].As<Napi::Number>().Uint32Value();
  uint64_t mm = 0;
  bool found = follow_ && followed_fd_ >= 0 && object_ != nullptr &&
               bpf_map_lookup_elem(followed_fd_, &pid, &mm) == 0;
  return Napi::Boolean::New(env, found);
}

// unwindWith(pid, symbolizer): a followed process's samples are unwound with
// this symbolizer (over its own maps: it mapped code since its fork) from the
// next poll on; null goes back to the target's.
Napi::Value DwarfSampler::UnwindWith(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber()) ThrowTypeError(env, "unwindWith(pid, symbolizer) needs a PID");
  uint32_t pid = info[0].As<Napi::Number>().Uint32Value();
  // The kernel unwinds it with this one's modules from the next poll on.
  ForgetModules(pid);
  if (info[1].IsNull() || info[1].IsUndefined()) {
    process_symbolizers_.erase(pid);
    return env.Undefined();
  }
  auto* data = env.GetInstanceData<AddonData>();
  if (!info[1].IsObject() || data == nullptr ||
      !info[1].As<Napi::Object>().InstanceOf(data->symbolizer.Value())) {
    ThrowTypeError(env, "unwindWith(pid, symbolizer) needs a Symbolizer or null");
  }
  ProcessSymbolizer& entry = process_symbolizers_[pid];
  entry.symbolizer = Napi::ObjectWrap<Symbolizer>::Unwrap(info[1].As<Napi::Object>());
  entry.ref = Napi::Persistent(info[1].As<Napi::Object>());
  return env.Undefined();
}

// Follows a process forked from the target before sampling started (user
// space checked it runs the target's image): true when it is followed now.
Napi::Value DwarfSampler::Adopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowTypeError(env, "adopt(pid) needs a PID");
  uint32_t pid = info[0].As<Napi::Number>().Uint32Value();
  if (!follow_ || followed_fd_ < 0 || object_ == nullptr || pid == static_cast<uint32_t>(pid_)) {
    return Napi::Boolean::New(env, false);
  }
  uint64_t mm = 0;
  if (bpf_map_update_elem(followed_fd_, &pid, &mm, BPF_NOEXIST) != 0) return Napi::Boolean::New(env, false);
  // Wall-clock mode's ticker looks at followed again when the count moves.
  uint32_t zero = 0;
  uint64_t changes = 0;
  if (followed_changes_fd_ >= 0 && bpf_map_lookup_elem(followed_changes_fd_, &zero, &changes) == 0) {
    changes++;
    bpf_map_update_elem(followed_changes_fd_, &zero, &changes, BPF_ANY);
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value DwarfSampler::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

int DwarfSampler::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<DwarfSampler*>(ctx);
  // With the ring's own 8-byte header, rounded as it places records.
  self->drained_bytes_ += (size + 8 + 7) & ~size_t{7};
  self->HandleRecord(static_cast<const uint8_t*>(data), size);
  return 0;
}

void DwarfSampler::HandleRecord(const uint8_t* data, size_t size) {
  uint32_t kind = 0;
  if (size < sizeof(kind)) {
    malformed_++;
    return;
  }
  std::memcpy(&kind, data, sizeof(kind));
  if (kind == RECORD_CHAIN) {
    const size_t head = offsetof(chain_record, frames);
    if (size < head) {
      malformed_++;
      return;
    }
    chain_record c;
    std::memcpy(&c, data, head);
    if (c.depth > MAX_PYTHON_DEPTH || size < head + c.depth * sizeof(python_frame)) {
      malformed_++;
      return;
    }
    Chain chain;
    chain.pid = c.pid;
    chain.hash = c.hash;
    chain.truncated = c.truncated != 0;
    chain.frames.resize(static_cast<size_t>(c.depth) * 4);
    std::memcpy(chain.frames.data(), data + head, c.depth * sizeof(python_frame));
    chains_.push_back(std::move(chain));
    return;
  }
  if (kind == RECORD_EXEC) {
    execd_ = true;
    return;
  }
  if (kind == RECORD_FORK || kind == RECORD_EXIT || kind == RECORD_CHILD_EXEC || kind == RECORD_THREAD_EXIT) {
    if (size < sizeof(process_record)) {
      malformed_++;
      return;
    }
    process_record r;
    std::memcpy(&r, data, sizeof(r));
    if (kind == RECORD_THREAD_EXIT) {
      ForgetThread(r.parent);
      return;
    }
    processes_.push_back(ProcessEvent{r.kind, r.pid, r.parent, r.time_ns});
    if (r.kind != RECORD_FORK && r.pid != static_cast<uint32_t>(pid_)) {
      ForgetModules(r.pid);
      // A worker's one thread (its others said so as they exited).
      ForgetThread(r.pid);
    }
    return;
  }
  if (kind == RECORD_REPEAT || kind == RECORD_RUNNING) {
    if (size < sizeof(repeat_record)) {
      malformed_++;
      return;
    }
    repeat_record r;
    std::memcpy(&r, data, sizeof(r));
    if (kind == RECORD_REPEAT) {
      // A repeat before any sample of the thread (one sent then dropped): nothing to count.
      // Still where it was sampled: it has not run since.
      CountAgain(&last_off_cpu_, r.tid, r.weight, r.time_ns, UINT64_MAX);
    } else if (!CountAgain(&last_on_cpu_, r.tid, r.weight, r.time_ns, running_max_age_ns_)) {
      // Not caught by the clock yet: counted at its first clock sample.
      pending_running_[r.tid] += r.weight;
    }
    return;
  }
  if (kind == RECORD_UNWOUND || kind == RECORD_NATIVE_CHECK) {
    HandleUnwound(data, size);
    return;
  }
  const size_t head = offsetof(sample_record, stack);
  if (kind != RECORD_SAMPLE || size < head) {
    malformed_++;
    return;
  }
  // The record is used in place: only its header is copied out.
  const auto* s = reinterpret_cast<const sample_record*>(data);
  uint32_t tid = s->tid;
  uint32_t pid = s->pid;
  uint32_t stack_size = s->stack_size;
  uint32_t kernel_depth = s->kernel_depth;
  if (stack_size > MAX_STACK_BYTES || size < head + stack_size ||
      kernel_depth > KERNEL_DEPTH) {
    malformed_++;
    return;
  }
  // The kernel's unwinds come as unwound records: a sample record holds a copy.
  if (s->native != NATIVE_COPIED) {
    malformed_++;
    return;
  }
  NoteThread(tid, pid, s->comm, sizeof(s->comm));
  pid_t unwound_as = pid_;
  Symbolizer* symbolizer = SymbolizerOf(pid, &unwound_as);
  bool complete = false;
  bool beyond_copy = false;
  UnwindCopy(s, data + head, symbolizer, unwound_as, &complete, &beyond_copy);
  Count(SampleHead{pid, tid, s->chain, s->gil, s->off_cpu, s->weight, s->time_ns,
                   reinterpret_cast<const uint64_t*>(s->kernel), kernel_depth},
        symbolizer, complete ? UnwindEnd::kComplete : beyond_copy ? UnwindEnd::kBeyondCopy : UnwindEnd::kStopped);
}

void DwarfSampler::HandleUnwound(const uint8_t* data, size_t size) {
  const size_t head = offsetof(unwound_record, frames);
  if (size < head) {
    malformed_++;
    return;
  }
  unwound_record u;
  std::memcpy(&u, data, head);
  if (u.user_depth == 0 || u.user_depth > MAX_NATIVE_DEPTH || u.kernel_depth > KERNEL_DEPTH ||
      (u.native != NATIVE_STOPPED && u.native != NATIVE_COMPLETE && u.native != NATIVE_SHORT) ||
      size < head + (static_cast<size_t>(u.user_depth) + u.kernel_depth) * 8) {
    malformed_++;
    return;
  }
  // The ring places records 8-byte aligned, and frames is 8-byte aligned in the record.
  const auto* frames = reinterpret_cast<const uint64_t*>(data + head);
  if (u.kind == RECORD_NATIVE_CHECK) {
    // Compared when its copy, next from this thread, is unwound.
    KernelUnwind& check = kernel_checks_[u.tid];
    check.pcs.assign(frames, frames + u.user_depth);
    check.complete = u.native == NATIVE_COMPLETE;
    return;
  }
  NoteThread(u.tid, u.pid, u.comm, sizeof(u.comm));
  pid_t unwound_as = pid_;
  Symbolizer* symbolizer = SymbolizerOf(u.pid, &unwound_as);
  pcs_.assign(frames, frames + u.user_depth);
  if (u.native != NATIVE_SHORT && u.pid == static_cast<uint32_t>(pid_)) kernel_unwinds_++;
  const UnwindEnd end = u.native == NATIVE_COMPLETE ? UnwindEnd::kComplete
                        : u.native == NATIVE_SHORT  ? UnwindEnd::kShort
                                                    : UnwindEnd::kStopped;
  Count(SampleHead{u.pid, u.tid, u.chain, u.gil, u.off_cpu, u.weight, u.time_ns, frames + u.user_depth, u.kernel_depth}, symbolizer,
        end);
}

void DwarfSampler::NoteThread(uint32_t tid, uint32_t pid, const char* comm, size_t comm_size) {
  if (threads_.emplace(tid, true).second) new_threads_[tid] = NewThread{pid, std::string(comm, strnlen(comm, comm_size))};
}

void DwarfSampler::ForgetThread(uint32_t tid) {
  threads_.erase(tid);
  last_off_cpu_.erase(tid);
  last_on_cpu_.erase(tid);
  pending_running_.erase(tid);
  kernel_checks_.erase(tid);
}

void DwarfSampler::Counted(uint64_t id, uint32_t pid, uint32_t tid, uint64_t samples, uint64_t time_ns) {
  counts_[id] += samples;
  if (timeline_ && time_ns != kUntimed) {
    timeline_log_.push_back(static_cast<double>(time_ns));
    timeline_log_.push_back(tid);
    timeline_log_.push_back(static_cast<double>(id));
    timeline_log_.push_back(static_cast<double>(samples));
  }
  if (per_thread_) return;
  ThreadSamples& thread = thread_samples_[tid];
  thread.pid = pid;
  thread.samples += samples;
}

Symbolizer* DwarfSampler::SymbolizerOf(uint32_t pid, pid_t* unwound_as) {
  auto own = process_symbolizers_.find(pid);
  if (own == process_symbolizers_.end()) return symbolizer_;
  *unwound_as = static_cast<pid_t>(pid);
  return own->second.symbolizer;
}

void DwarfSampler::UnwindCopy(const sample_record* s, const uint8_t* stack, Symbolizer* symbolizer, pid_t unwound_as,
                              bool* complete, bool* beyond_copy) {
  const uint32_t tid = s->tid;
  const uint32_t pid = s->pid;
  StackSnapshot snapshot{};
  std::memcpy(snapshot.regs, s->regs, sizeof(snapshot.regs));
  snapshot.stack = stack;
  snapshot.stack_addr = s->regs[kDwarfSp];
  snapshot.stack_size = s->stack_size;
  // A followed process: words beyond the copy are in its memory, not the target's.
  if (static_cast<pid_t>(pid) != pid_) snapshot.pid = static_cast<pid_t>(pid);
  if (s->red_zone_copied != 0) {
    // red_zone and stack are contiguous in the record.
    snapshot.stack -= RED_ZONE_BYTES;
    snapshot.stack_addr -= RED_ZONE_BYTES;
    snapshot.stack_size += RED_ZONE_BYTES;
  }
  Unwinder* unwinder = symbolizer != nullptr ? symbolizer->unwinder(unwound_as) : nullptr;
  auto check = kernel_checks_.find(tid);
  if (unwinder != nullptr) {
    unwinder->set_tables(table_unwind_);
    unwinder->set_check(check_unwind_);
    unwinder->set_skew(skew_cfi_rows_);
    *complete = unwinder->Unwind(static_cast<pid_t>(tid), snapshot, max_frames_, &pcs_);
    *beyond_copy = !*complete && unwinder->beyond_copy();
    // A module this unwind compiled goes to the kernel now, not at the drain's end: a first drain
    // on a busy machine took 0.3 s, and the copies made meanwhile overflowed the ring.
    PushModules(static_cast<uint32_t>(unwound_as), unwinder);
    if (check != kernel_checks_.end() && pid == static_cast<uint32_t>(pid_)) {
      std::vector<uint64_t> reference;
      bool reference_complete = unwinder->Reference(static_cast<pid_t>(tid), snapshot, max_frames_, &reference);
      kernel_checked_++;
      if (reference != check->second.pcs || reference_complete != check->second.complete) kernel_differed_++;
    }
  } else {
    pcs_.assign(1, s->regs[kDwarfIp]);
  }
  if (check != kernel_checks_.end()) kernel_checks_.erase(check);
}

void DwarfSampler::Count(const SampleHead& s, Symbolizer* symbolizer, UnwindEnd end) {
  const uint32_t tid = s.tid;
  const uint32_t pid = s.pid;
  const uint32_t kernel_depth = s.kernel_depth;
  // Keyed by the leaf as it is named (by its function's start): samples at
  // different instructions of the same functions are one record, shown by
  // the first address seen. The callers are return addresses, one per call
  // site, kept as they are.
  std::string& key = key_;
  key.clear();
  key.append(reinterpret_cast<const char*>(&pid), sizeof(pid));
  if (per_thread_) key.append(reinterpret_cast<const char*>(&tid), sizeof(tid));
  key.push_back(static_cast<char>(end));
  key.append(reinterpret_cast<const char*>(&s.chain), sizeof(s.chain));
  key.append(reinterpret_cast<const char*>(&s.gil), sizeof(s.gil));
  const bool runnable = s.off_cpu == OFF_CPU_RUNNABLE;
  const bool waiting = s.off_cpu == OFF_CPU_WAITING;
  key.push_back(static_cast<char>(runnable ? 1 : waiting ? 2 : 0));
  uint32_t n = static_cast<uint32_t>(pcs_.size());
  key.append(reinterpret_cast<const char*>(&n), sizeof(n));
  if (!pcs_.empty()) {
    uint64_t leaf = symbolizer != nullptr ? symbolizer->FrameStart(pcs_[0]) : pcs_[0];
    key.append(reinterpret_cast<const char*>(&leaf), sizeof(leaf));
    key.append(reinterpret_cast<const char*>(pcs_.data() + 1), (pcs_.size() - 1) * 8);
  }
  key.append(reinterpret_cast<const char*>(s.kernel), kernel_depth * 8);
  // Two keys with one 64-bit digest (murmur, the length mixed in) among the
  // 2,048 kept: about one run in 10^12 would count one record as another.
  const uint64_t digest = std::hash<std::string>{}(key);
  auto found = stacks_.find(digest);
  // The frames are needed for a new record, and for the thread's last sample (counted again later).
  const bool keep = found == stacks_.end() || s.off_cpu != ON_CPU || wall_;
  StackRecord record;
  if (keep) {
    record.pid = pid;
    record.tid = per_thread_ ? tid : 0;
    record.chain = s.chain;
    record.gil = s.gil;
    record.user = pcs_;
    record.kernel.assign(s.kernel, s.kernel + kernel_depth);
    record.end = end;
    record.runnable = runnable;
    record.waiting = waiting;
  }
  const uint64_t id = found != stacks_.end() ? found->second : Intern(digest, record);
  record.id = id;
  if (s.off_cpu != ON_CPU) {
    Counted(id, pid, tid, s.weight, s.time_ns);
    // Passes that found the thread running in bursts too short for the clock
    // to catch (a loop of short sleeps): counted where it waits next, the
    // nearest place known, rather than lost.
    // Not on a timeline: where it ran then is not known.
    auto pending = pending_running_.find(tid);
    if (pending != pending_running_.end()) {
      Counted(id, pid, tid, pending->second, kUntimed);
      pending_running_.erase(pending);
    }
    LastSample& last = last_off_cpu_[tid];
    last.digest = digest;
    last.sample = std::move(record);
    last.time_ns = s.time_ns;
  } else if (wall_) {
    // Wall-clock mode counts what the iterator's passes find: a clock sample
    // only says where a running thread is, for its running records.
    LastSample& last = last_on_cpu_[tid];
    last.digest = digest;
    last.sample = std::move(record);
    last.time_ns = s.time_ns;
    auto pending = pending_running_.find(tid);
    if (pending != pending_running_.end()) {
      Counted(id, pid, tid, pending->second, kUntimed);
      pending_running_.erase(pending);
    }
  } else {
    Counted(id, pid, tid, 1, s.time_ns);
  }
}

uint64_t DwarfSampler::Intern(uint64_t digest, const StackRecord& sample) {
  auto [it, added] = stacks_.emplace(digest, next_stack_id_);
  if (added) {
    next_stack_id_++;
    new_stacks_.push_back(sample);
    new_stacks_.back().id = it->second;
  }
  return it->second;
}

bool DwarfSampler::CountAgain(std::unordered_map<uint32_t, LastSample>* last, uint32_t tid, uint64_t weight,
                              uint64_t time_ns, uint64_t max_age_ns) {
  auto found = last->find(tid);
  if (found == last->end()) return false;
  // (A clock sample can come out of the ring after a later pass.)
  const bool recent = time_ns <= found->second.time_ns || time_ns - found->second.time_ns <= max_age_ns;
  // Numbered again when the numbers were forgotten since.
  Counted(Intern(found->second.digest, found->second.sample), found->second.sample.pid, tid, weight,
          recent ? time_ns : kUntimed);
  return true;
}

bool DwarfSampler::RowBlock(const Unwinder::CompiledModule& module, unwind_module* out) {
  const std::vector<cfi_row>& rows = module.table->rows();
  // The same file compiles to the same rows (a followed process's own unwinder compiles them again).
  std::string key = *module.name + '\n' + std::to_string(rows.size());
  auto known = row_blocks_.find(key);
  if (known == row_blocks_.end()) {
    if (rows.empty() || rows.size() > MAX_CFI_ROWS - rows_used_) return false;
    // The smallest pages that keep the index at most half the rows (and within what is left of it).
    const auto pages_at = [&](uint32_t shift) { return (rows.back().pc >> shift) - (rows.front().pc >> shift) + 1; };
    uint32_t shift = CFI_MIN_PAGE_SHIFT;
    while (shift < CFI_MAX_PAGE_SHIFT &&
           (pages_at(shift) > std::max<size_t>(rows.size() / 2, 1) || pages_at(shift) > MAX_CFI_PAGES - pages_used_)) {
      shift++;
    }
    if (pages_at(shift) > MAX_CFI_PAGES - pages_used_) return false;
    // Each page's first row: the one holding at the page's start.
    const uint64_t page_base = rows.front().pc >> shift;
    const uint64_t page_count = pages_at(shift);
    std::vector<uint32_t> pages(page_count);
    size_t row = 0;
    for (uint64_t k = 0; k < page_count; k++) {
      uint64_t start = (page_base + k) << shift;
      while (row + 1 < rows.size() && rows[row + 1].pc <= start) row++;
      pages[k] = static_cast<uint32_t>(row);
    }
    std::vector<cfi_row> skewed;
    const cfi_row* values = rows.data();
    if (skew_cfi_rows_) {
      skewed = rows;
      for (cfi_row& r : skewed) r.cfa_offset += 8;
      values = skewed.data();
    }
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    std::vector<uint32_t> keys(std::max(rows.size(), pages.size()));
    for (size_t i = 0; i < rows.size(); i++) keys[i] = rows_used_ + static_cast<uint32_t>(i);
    uint32_t n = static_cast<uint32_t>(rows.size());
    if (bpf_map_update_batch(cfi_rows_fd_, keys.data(), values, &n, &opts) != 0 || n != rows.size()) return false;
    for (size_t i = 0; i < pages.size(); i++) keys[i] = pages_used_ + static_cast<uint32_t>(i);
    n = static_cast<uint32_t>(pages.size());
    if (bpf_map_update_batch(cfi_pages_fd_, keys.data(), pages.data(), &n, &opts) != 0 || n != pages.size()) return false;
    unwind_module block{};
    block.first_row = rows_used_;
    block.rows = static_cast<uint32_t>(rows.size());
    block.page_base = page_base;
    block.first_page = pages_used_;
    block.pages = static_cast<uint32_t>(page_count);
    block.page_shift = shift;
    known = row_blocks_.emplace(key, block).first;
    rows_used_ += block.rows;
    pages_used_ += block.pages;
  }
  *out = known->second;
  return true;
}

void DwarfSampler::PushModules(uint32_t pid, Unwinder* unwinder) {
  if (unwind_modules_fd_ < 0 || unwinder == nullptr) return;
  uint64_t& pushed = pushed_generation_[pid];
  if (pushed == unwinder->generation() + 1) return;
  pushed = unwinder->generation() + 1;
  auto value = std::make_unique<unwind_modules>();
  for (const Unwinder::CompiledModule& m : unwinder->CompiledModules()) {
    if (value->count == MAX_UNWIND_MODULES) break;
    unwind_module module{};
    // A module left out is unwound in user space.
    if (!RowBlock(m, &module)) continue;
    module.low = m.low;
    module.high = m.high;
    module.bias = m.bias;
    value->modules[value->count++] = module;
  }
  bpf_map_update_elem(unwind_modules_fd_, &pid, value.get(), BPF_ANY);
}

void DwarfSampler::ForgetModules(uint32_t pid) {
  pushed_generation_.erase(pid);
  if (unwind_modules_fd_ >= 0) bpf_map_delete_elem(unwind_modules_fd_, &pid);
}

void DwarfSampler::Drain(Napi::Env env) {
  if (ring_ == nullptr) ThrowCodeError(env, "ECLOSED", "DwarfSampler is closed");
  int n = ring_buffer__consume(ring_);
  if (n < 0) ThrowLibbpf(env, n, "cannot read the ring buffer");
  // Modules compiled by these unwinds are unwound in the kernel from now on.
  if (symbolizer_ != nullptr) PushModules(static_cast<uint32_t>(pid_), symbolizer_->unwinder(pid_));
  for (auto& [pid, own] : process_symbolizers_) {
    if (own.symbolizer != nullptr) PushModules(pid, own.symbolizer->unwinder(static_cast<pid_t>(pid)));
  }
}

Napi::Value DwarfSampler::Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // poll(false): what must reach JavaScript while the target lives (threads,
  // chains, new records with their counts, process events); the counts of
  // records handed over before wait for the next poll(true).
  bool full = info.Length() < 1 || info[0].ToBoolean();
  Drain(env);
  // A process that ended (or exec'd) has every count handed over with its end.
  for (const ProcessEvent& e : processes_) full = full || e.kind != RECORD_FORK;
  full = full || execd_;

  Napi::Object result = Napi::Object::New(env);
  Napi::Array threads = Napi::Array::New(env, new_threads_.size());
  uint32_t i = 0;
  for (const auto& [tid, thread] : new_threads_) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("pid", Napi::Number::New(env, thread.pid));
    t.Set("tid", Napi::Number::New(env, tid));
    t.Set("comm", Napi::String::New(env, thread.comm));
    threads.Set(i++, t);
  }
  result.Set("threads", threads);
  Napi::Array chains = Napi::Array::New(env, chains_.size());
  i = 0;
  for (const Chain& c : chains_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("pid", Napi::Number::New(env, c.pid));
    o.Set("hash", Napi::BigInt::New(env, c.hash));
    o.Set("truncated", Napi::Boolean::New(env, c.truncated));
    o.Set("frames", U64Array(env, c.frames));
    chains.Set(i++, o);
  }
  result.Set("chains", chains);
  Napi::Array stacks = Napi::Array::New(env, new_stacks_.size());
  i = 0;
  for (const StackRecord& record : new_stacks_) {
    const StackRecord* c = &record;
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, static_cast<double>(c->id)));
    o.Set("pid", Napi::Number::New(env, c->pid));
    o.Set("tid", Napi::Number::New(env, c->tid));
    o.Set("chain", Napi::BigInt::New(env, c->chain));
    o.Set("gil", Napi::Number::New(env, c->gil));
    o.Set("user", U64Array(env, c->user));
    o.Set("kernel", U64Array(env, c->kernel));
    o.Set("complete", Napi::Boolean::New(env, c->end == UnwindEnd::kComplete));
    if (c->end == UnwindEnd::kBeyondCopy) o.Set("beyondCopy", Napi::Boolean::New(env, true));
    if (c->end == UnwindEnd::kShort) o.Set("short", Napi::Boolean::New(env, true));
    o.Set("runnable", Napi::Boolean::New(env, c->runnable));
    o.Set("waiting", Napi::Boolean::New(env, c->waiting));
    stacks.Set(i++, o);
  }
  result.Set("stacks", stacks);
  // Pairs of number and count (a wall-clock mode clock sample no pass has counted yet has none).
  Napi::Float64Array pairs;
  if (full) {
    pairs = Napi::Float64Array::New(env, counts_.size() * 2);
    i = 0;
    for (const auto& [id, count] : counts_) {
      pairs[i++] = static_cast<double>(id);
      pairs[i++] = static_cast<double>(count);
    }
    counts_.clear();
    if (!per_thread_) {
      Napi::Float64Array by_thread = Napi::Float64Array::New(env, thread_samples_.size() * 3);
      i = 0;
      for (const auto& [tid, thread] : thread_samples_) {
        by_thread[i++] = thread.pid;
        by_thread[i++] = tid;
        by_thread[i++] = static_cast<double>(thread.samples);
      }
      thread_samples_.clear();
      result.Set("threadSamples", by_thread);
    }
  } else {
    std::vector<double> fresh;
    for (const StackRecord& record : new_stacks_) {
      auto found = counts_.find(record.id);
      if (found == counts_.end()) continue;
      fresh.push_back(static_cast<double>(record.id));
      fresh.push_back(static_cast<double>(found->second));
      counts_.erase(found);
    }
    pairs = Napi::Float64Array::New(env, fresh.size());
    if (!fresh.empty()) std::memcpy(pairs.Data(), fresh.data(), fresh.size() * sizeof(double));
  }
  result.Set("counts", pairs);
  // Every poll: the numbers in it were handed over with this poll's records or before.
  if (timeline_) {
    Napi::Float64Array log = Napi::Float64Array::New(env, timeline_log_.size());
    if (!timeline_log_.empty()) std::memcpy(log.Data(), timeline_log_.data(), timeline_log_.size() * sizeof(double));
    timeline_log_.clear();
    result.Set("timeline", log);
  }
  Napi::Array processes = Napi::Array::New(env, processes_.size());
  i = 0;
  for (const ProcessEvent& e : processes_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", Napi::String::New(env, e.kind == RECORD_FORK ? "fork" : e.kind == RECORD_EXIT ? "exit" : "exec"));
    o.Set("pid", Napi::Number::New(env, e.pid));
    o.Set("parent", Napi::Number::New(env, e.parent));
    // CLOCK_MONOTONIC in milliseconds, as process.hrtime() counts.
    o.Set("timeMs", Napi::Number::New(env, static_cast<double>(e.time_ns) / 1e6));
    processes.Set(i++, o);
  }
  processes_.clear();
  result.Set("processes", processes);
  uint32_t zero = 0;
  uint64_t dropped = 0;
  if (dropped_fd_ >= 0) bpf_map_lookup_elem(dropped_fd_, &zero, &dropped);
  result.Set("dropped", Napi::Number::New(env, static_cast<double>(dropped)));
  result.Set("malformed", Napi::Number::New(env, static_cast<double>(malformed_)));
  result.Set("threadsKept", Napi::Number::New(env, static_cast<double>(threads_.size())));
  result.Set("execd", Napi::Boolean::New(env, execd_));
  result.Set("tickErrors", Napi::Number::New(env, static_cast<double>(tick_errors_.load())));
  // The target's stacks, since the start.
  Unwinder* unwinder = symbolizer_ != nullptr ? symbolizer_->unwinder(pid_) : nullptr;
  Napi::Object unwinds = Napi::Object::New(env);
  Unwinder::Counts counts = unwinder != nullptr ? unwinder->counts() : Unwinder::Counts{};
  unwinds.Set("tables", Napi::Number::New(env, static_cast<double>(counts.tables)));
  unwinds.Set("libdwfl", Napi::Number::New(env, static_cast<double>(counts.libdwfl)));
  unwinds.Set("checked", Napi::Number::New(env, static_cast<double>(counts.checked)));
  unwinds.Set("differed", Napi::Number::New(env, static_cast<double>(counts.differed)));
  unwinds.Set("kernel", Napi::Number::New(env, static_cast<double>(kernel_unwinds_)));
  unwinds.Set("kernelChecked", Napi::Number::New(env, static_cast<double>(kernel_checked_)));
  unwinds.Set("kernelDiffered", Napi::Number::New(env, static_cast<double>(kernel_differed_)));
  result.Set("unwinds", unwinds);
  new_stacks_.clear();
  chains_.clear();
  new_threads_.clear();
  // Kept within bounds: every number handed over so far is forgotten, and
  // records seen again are numbered and handed over again.
  // Only once every count is handed over: a number pending would be lost.
  bool forget = full && stacks_.size() > records_kept_;
  if (forget) stacks_.clear();
  result.Set("forgetStacks", Napi::Boolean::New(env, forget));
  result.Set("drainedBytes", Napi::Number::New(env, static_cast<double>(drained_bytes_)));
  drained_bytes_ = 0;
  return result;
}

}  // namespace mixprof

// Registers the exports; each concept lives in its own file.
#include <libelf.h>
#include <napi.h>

#include "addon_data.h"
#include "cfi_table.h"
#include "descriptors.h"
#include "debug_search.h"
#include "dwarf_layout.h"
#include "dwarf_sampler.h"
#include "elf_file.h"
#include "function_parts.h"
#include "kallsyms.h"
#include "process_memory.h"
#include "resident_pages.h"
#include "socket_owner.h"
#include "symbolizer.h"
#include "walk_image_binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // libelf refuses to work until the caller states the ELF version it uses.
  if (elf_version(EV_CURRENT) == EV_NONE) {
    Napi::Error::New(env, "libelf is out of date").ThrowAsJavaScriptException();
    return exports;
  }
  exports.Set("cfiRows", Napi::Function::New(env, mixprof::CfiRowsOf, "cfiRows"));
  exports.Set("lookupSections", Napi::Function::New(env, mixprof::LookupSections, "lookupSections"));
  exports.Set("usdtProbes", Napi::Function::New(env, mixprof::UsdtProbes, "usdtProbes"));
  exports.Set("elfInfo", Napi::Function::New(env, mixprof::ElfInfo, "elfInfo"));
  exports.Set("fileIdentity", Napi::Function::New(env, mixprof::FileIdentityOf, "fileIdentity"));
  exports.Set("findDebugFile", Napi::Function::New(env, mixprof::FindDebugFileOf, "findDebugFile"));
  exports.Set("functionParts",
              Napi::Function::New(env, mixprof::FunctionPartsOf, "functionParts"));
  exports.Set("lookupSymbols",
              Napi::Function::New(env, mixprof::LookupSymbols, "lookupSymbols"));
  exports.Set("structLayout",
              Napi::Function::New(env, mixprof::StructLayout, "structLayout"));
  exports.Set("parseKallsyms", Napi::Function::New(env, mixprof::ParseKallsymsOf, "parseKallsyms"));
  exports.Set("readKallsyms", Napi::Function::New(env, mixprof::ReadKallsyms, "readKallsyms"));
  exports.Set("readKallsymsSync", Napi::Function::New(env, mixprof::ReadKallsymsSync, "readKallsymsSync"));
  exports.Set("readMemory",
              Napi::Function::New(env, mixprof::ReadMemory, "readMemory"));
  exports.Set("readMemoryBatch", Napi::Function::New(env, mixprof::ReadMemoryBatch,
                                                     "readMemoryBatch"));
  exports.Set("releaseStartupPages", Napi::Function::New(env, mixprof::ReleaseStartupPages, "releaseStartupPages"));
  exports.Set("setBlocking", Napi::Function::New(env, mixprof::SetBlocking, "setBlocking"));
  exports.Set("tcpSocketOwner",
              Napi::Function::New(env, mixprof::TcpSocketOwner, "tcpSocketOwner"));
  Napi::Function symbolizer = mixprof::Symbolizer::Define(env);
  exports.Set("Symbolizer", symbolizer);
  auto* data = new mixprof::AddonData();
  data->symbolizer = Napi::Persistent(symbolizer);
  env.SetInstanceData(data);
  exports.Set("DwarfSampler", mixprof::DwarfSampler::Define(env));
  exports.Set("walkImage", Napi::Function::New(env, mixprof::WalkImage, "walkImage"));
  return exports;
}

}  // namespace

NODE_API_MODULE(mixprof_native, Init)

#include "cfi_table.h"

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "errors.h"
#include "function_parts.h"

namespace mixprof {

namespace {

// A register rule as dwarf_frame_register() gives it.
struct SavedAt {
  enum Kind { kSame, kUndefined, kAtCfa, kOther } kind;
  int64_t offset = 0;
};

SavedAt RegisterRule(Dwarf_Frame* frame, int regno) {
  Dwarf_Op mem[3];
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_frame_register(frame, regno, mem, &ops, &nops) != 0) return {SavedAt::kOther};
  // No operations: same value when ops is null, undefined otherwise.
  if (nops == 0) return {ops == nullptr ? SavedAt::kSame : SavedAt::kUndefined};
  if (ops[0].atom != DW_OP_call_frame_cfa) return {SavedAt::kOther};
  if (nops == 1) return {SavedAt::kAtCfa, 0};
  // offset(N): the CFA plus N, as an unsigned constant that wraps for N < 0.
  if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) return {SavedAt::kAtCfa, static_cast<int64_t>(ops[1].number)};
  return {SavedAt::kOther};
}

bool IsBreg(const Dwarf_Op& op, unsigned reg, int64_t* offset) {
  if (op.atom == DW_OP_bregx && op.number == reg) {
    *offset = static_cast<int64_t>(op.number2);
    return true;
  }
  if (op.atom == DW_OP_breg0 + reg) {
    *offset = static_cast<int64_t>(op.number);
    return true;
  }
  return false;
}

// The CFA rule of a PLT entry, as linkers write it: %rsp + 8, plus 8 once
// the entry's push has run (pc % 16 >= N): breg7 8; breg16 0; lit15; and;
// litN; ge; lit3; shl; plus.
bool IsPltCfa(const Dwarf_Op* ops, size_t nops, int* threshold) {
  int64_t off = 0;
  if (nops != 9 || !IsBreg(ops[0], kDwarfSp, &off) || off != 8 || !IsBreg(ops[1], kDwarfIp, &off) || off != 0) return false;
  if (ops[2].atom != DW_OP_lit15 || ops[3].atom != DW_OP_and || ops[4].atom < DW_OP_lit0 || ops[4].atom > DW_OP_lit31) return false;
  if (ops[5].atom != DW_OP_ge || ops[6].atom != DW_OP_lit3 || ops[7].atom != DW_OP_shl || ops[8].atom != DW_OP_plus) return false;
  *threshold = ops[4].atom - DW_OP_lit0;
  return true;
}

cfi_row RowOf(Dwarf_Frame* frame, uint64_t start, bool signal_frame) {
  cfi_row row{};
  row.pc = start;
  row.kind = CFI_UNSUPPORTED;
  if (signal_frame) return row;
  SavedAt ra = RegisterRule(frame, kDwarfIp);
  if (ra.kind == SavedAt::kUndefined) {
    row.kind = CFI_OUTERMOST;
    return row;
  }
  if (ra.kind != SavedAt::kAtCfa || ra.offset != -8) return row;
  SavedAt rbp = RegisterRule(frame, kDwarfRbp);
  if (rbp.kind == SavedAt::kAtCfa && rbp.offset != 0 && rbp.offset >= INT16_MIN && rbp.offset <= INT16_MAX) {
    row.rbp_offset = static_cast<__s16>(rbp.offset);
  } else if (rbp.kind != SavedAt::kSame) {
    return row;
  }
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_frame_cfa(frame, &ops, &nops) != 0) return row;
  int64_t offset = 0;
  int threshold = 0;
  if (nops == 1 && (IsBreg(ops[0], kDwarfSp, &offset) || IsBreg(ops[0], kDwarfRbp, &offset))) {
    if (offset < INT32_MIN || offset > INT32_MAX) return row;
    row.kind = IsBreg(ops[0], kDwarfSp, &offset) ? CFI_RSP : CFI_RBP;
    row.cfa_offset = static_cast<__s32>(offset);
  } else if (IsPltCfa(ops, nops, &threshold)) {
    row.kind = CFI_PLT;
    row.cfa_offset = threshold;
  }
  return row;
}

// The rule at an address, and the end of the range it holds for; none
// where no CFI describes the address.
std::optional<cfi_row> RuleAt(Dwarf_CFI* cfi, uint64_t addr, uint64_t* end) {
  Dwarf_Frame* frame = nullptr;
  if (dwarf_cfi_addrframe(cfi, addr, &frame) != 0) return std::nullopt;
  Dwarf_Addr start = 0;
  Dwarf_Addr until = 0;
  bool signal_frame = false;
  int ra = dwarf_frame_info(frame, &start, &until, &signal_frame);
  cfi_row row = RowOf(frame, addr, signal_frame);
  if (ra != static_cast<int>(kDwarfIp)) row.kind = CFI_UNSUPPORTED;
  std::free(frame);
  *end = until;
  return row;
}

bool SameRule(const cfi_row& a, const cfi_row& b) {
  return a.kind == b.kind && a.cfa_offset == b.cfa_offset && a.rbp_offset == b.rbp_offset;
}

}  // namespace

CfiTable CfiTable::Compile(Dwfl_Module* module) {
  CfiTable table;
  GElf_Addr elf_bias = 0;
  Elf* elf = dwfl_module_getelf(module, &elf_bias);
  if (elf == nullptr) return table;
  // A handle of its own, ended here: libdw keeps every FDE and CIE a handle
  // has parsed (megabytes for a whole libpython), and the rows are all that
  // is needed of them.
  Dwarf_CFI* cfi = dwarf_getcfi_elf(elf);
  if (cfi == nullptr) return table;
  std::vector<uint64_t> starts = FdeStarts(elf);
  std::vector<cfi_row>& rows = table.rows_;
  auto add = [&rows](const cfi_row& row) {
    // Equal neighbours make one row; a later start replaces an empty range.
    if (!rows.empty() && rows.back().pc == row.pc) rows.pop_back();
    if (!rows.empty() && SameRule(rows.back(), row)) return;
    rows.push_back(row);
  };
  for (size_t i = 0; i < starts.size(); i++) {
    uint64_t next = i + 1 < starts.size() ? starts[i + 1] : UINT64_MAX;
    uint64_t addr = starts[i];
    // Row by row through the range: each frame says where its rule ends.
    while (addr < next) {
      uint64_t end = 0;
      std::optional<cfi_row> row = RuleAt(cfi, addr, &end);
      if (!row) break;
      add(*row);
      if (end <= addr) break;
      addr = end;
    }
    // Past the range, up to the next one: no CFI.
    if (addr < next) {
      cfi_row gap{};
      gap.pc = addr;
      gap.kind = CFI_GAP;
      add(gap);
    }
  }
  dwarf_cfi_end(cfi);
  rows.shrink_to_fit();
  return table;
}

const cfi_row* CfiTable::Find(uint64_t pc) const {
  auto it = std::upper_bound(rows_.begin(), rows_.end(), pc, [](uint64_t value, const cfi_row& row) { return value < row.pc; });
  if (it == rows_.begin()) return nullptr;
  return &*(it - 1);
}

std::vector<uint64_t> CfiTable::Check(Dwfl_Module* module) const {
  std::vector<uint64_t> wrong;
  Dwarf_Addr bias = 0;
  Dwarf_CFI* cfi = dwfl_module_eh_cfi(module, &bias);
  if (cfi == nullptr) return wrong;
  for (size_t i = 0; i + 1 < rows_.size(); i++) {
    uint64_t first = rows_[i].pc;
    uint64_t last = rows_[i + 1].pc - 1;
    for (uint64_t addr : {first, first + (last - first) / 2, last}) {
      const cfi_row* row = Find(addr);
      uint64_t end = 0;
      std::optional<cfi_row> direct = RuleAt(cfi, addr, &end);
      bool same = row != nullptr && (direct ? row->kind != CFI_GAP && SameRule(*row, *direct) : row->kind == CFI_GAP);
      if (!same) wrong.push_back(addr);
    }
  }
  return wrong;
}

Napi::Value CfiRowsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  static const Dwfl_Callbacks callbacks = {
      .find_elf = nullptr,
      .find_debuginfo = dwfl_standard_find_debuginfo,
      .section_address = dwfl_offline_section_address,
      .debuginfo_path = nullptr,
  };
  Dwfl* dwfl = dwfl_begin(&callbacks);
  if (dwfl == nullptr) ThrowCodeError(env, "EDWFL", std::string("dwfl_begin failed: ") + dwfl_errmsg(-1));
  dwfl_report_begin(dwfl);
  Dwfl_Module* module = dwfl_report_offline(dwfl, path.c_str(), path.c_str(), -1);
  dwfl_report_end(dwfl, nullptr, nullptr);
  if (module == nullptr) {
    std::string why = dwfl_errmsg(-1);
    dwfl_end(dwfl);
    ThrowCodeError(env, "EELF", "cannot read " + path + ": " + why);
  }
  CfiTable table = CfiTable::Compile(module);
  std::vector<uint64_t> wrong = table.Check(module);
  dwfl_end(dwfl);
  const std::vector<cfi_row>& rows = table.rows();
  auto pcs = Napi::BigUint64Array::New(env, rows.size());
  auto kinds = Napi::Uint8Array::New(env, rows.size());
  auto cfa = Napi::Int32Array::New(env, rows.size());
  auto rbp = Napi::Int16Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    pcs[i] = rows[i].pc;
    kinds[i] = rows[i].kind;
    cfa[i] = rows[i].cfa_offset;
    rbp[i] = rows[i].rbp_offset;
  }
  auto mismatches = Napi::BigUint64Array::New(env, wrong.size());
  for (size_t i = 0; i < wrong.size(); i++) mismatches[i] = wrong[i];
  Napi::Object result = Napi::Object::New(env);
  result.Set("pc", pcs);
  result.Set("kind", kinds);
  result.Set("cfaOffset", cfa);
  result.Set("rbpOffset", rbp);
  result.Set("mismatches", mismatches);
  return result;
}

}  // namespace mixprof

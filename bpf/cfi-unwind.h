/*
 * Compact unwind rows compiled from a module's .eh_frame (the addon's
 * native/src/cfi_table.cc), and one step of an x86-64 unwind with them:
 * from a frame's pc, stack pointer and %rbp to its caller's. Written once
 * for user space (native/src/unwinder.cc) and the kernel.
 *
 * A row holds for the addresses from its pc up to the next row's. On x86-64
 * the return address is always at CFA - 8; %rbp is either untouched or saved
 * at CFA + rbp_offset. Rules beyond that (a CFA held in another register or
 * computed by a general expression, %rbp kept in another register, a signal
 * frame) are CFI_UNSUPPORTED: such a stack is unwound another way.
 *
 * The includer provides __u64/__s32/__s16/__u8 and __always_inline.
 */
#pragma once

#define CFI_GAP 0         /* no CFI: the unwind stops here */
#define CFI_RSP 1         /* CFA = %rsp + cfa_offset */
#define CFI_RBP 2         /* CFA = %rbp + cfa_offset */
#define CFI_PLT 3         /* a PLT entry: CFA = %rsp + 8, 16 once pc % 16 >= cfa_offset (past its push) */
#define CFI_OUTERMOST 4   /* the return address is undefined: the thread's first function */
#define CFI_UNSUPPORTED 5 /* a rule these rows do not hold */

struct cfi_row {
  __u64 pc;
  __s32 cfa_offset;
  /* Where %rbp is saved, from the CFA; 0: untouched. */
  __s16 rbp_offset;
  __u8 kind;
  __u8 pad;
};

struct cfi_regs {
  __u64 pc;
  __u64 sp;
  __u64 bp;
};

#define CFI_STEP_OK 0
#define CFI_STEP_END 1         /* the outermost frame: the stack is whole */
#define CFI_STEP_STOP 2        /* no CFI here, or a word could not be read */
#define CFI_STEP_UNSUPPORTED 3 /* the row's rule is not one these rows hold */

/*
 * The caller's registers from this frame's row. READ(ctx, addr, out) reads
 * the stack word at addr into *out and is 0 where it cannot. A return
 * address of 0 ends the stack as an outermost frame does (clone3's child
 * and _start leave one there for debuggers and unwinders).
 */
#define DEFINE_CFI_STEP(SUFFIX, CTX, READ)                                                     \
  static __always_inline int cfi_step_##SUFFIX(CTX ctx, const struct cfi_row *row, struct cfi_regs *r) { \
    __u64 cfa;                                                                                  \
    switch (row->kind) {                                                                        \
      case CFI_RSP:                                                                             \
        cfa = r->sp + (__s64)row->cfa_offset;                                                   \
        break;                                                                                  \
      case CFI_RBP:                                                                             \
        cfa = r->bp + (__s64)row->cfa_offset;                                                   \
        break;                                                                                  \
      case CFI_PLT:                                                                             \
        cfa = r->sp + ((r->pc & 15) >= (__u64)row->cfa_offset ? 16 : 8);                        \
        break;                                                                                  \
      case CFI_OUTERMOST:                                                                       \
        return CFI_STEP_END;                                                                    \
      case CFI_GAP:                                                                             \
        return CFI_STEP_STOP;                                                                   \
      default:                                                                                  \
        return CFI_STEP_UNSUPPORTED;                                                            \
    }                                                                                           \
    __u64 ra = 0;                                                                               \
    if (!READ(ctx, cfa - 8, &ra)) return CFI_STEP_STOP;                                         \
    if (row->rbp_offset != 0) {                                                                 \
      __u64 bp = 0;                                                                             \
      if (!READ(ctx, cfa + (__s64)row->rbp_offset, &bp)) return CFI_STEP_STOP;                  \
      r->bp = bp;                                                                               \
    }                                                                                           \
    r->sp = cfa;                                                                                \
    r->pc = ra;                                                                                 \
    return ra == 0 ? CFI_STEP_END : CFI_STEP_OK;                                                \
  }

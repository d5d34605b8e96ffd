/*
 * tcc_count.h - begin/end markers of instruction-counted regions (see
 * runtime/instruction_count.py, which runs a program in qemu with the tcc_insn_count
 * plugin and reads the counts back).
 *
 *   TCC_COUNT_BEGIN(0);
 *   kernel(...);            // instructions executed here are counted as region 0
 *   TCC_COUNT_END(0);
 *
 * `id` is a constant 0..7. A marker is one Thumb-2 `DBG #option` hint (begin: option
 * id, end: option 8 + id): a no-op on a Cortex-M7/M4 and in qemu, so the marked build
 * is the build that ships. The markers themselves are never counted. A region may be
 * entered many times (its counts add up, each entry is also logged in order);
 * different ids may nest or overlap; the same id must not nest.
 * On other architectures (the host build) the markers are only compiler barriers.
 */
#ifndef TCC_COUNT_H
#define TCC_COUNT_H

#if defined(__arm__) && defined(__thumb2__)
/* 4-byte aligned: a 32-bit DBG that straddles a page boundary is split by qemu's
   translator and the plugin would miss it (at most one padding NOP per marker). */
#define TCC_COUNT_MARK_(option) \
  __asm__ volatile(".balign 4\n\tdbg #%c0" ::"i"(option) : "memory")
#elif defined(__GNUC__)
#define TCC_COUNT_MARK_(option) __asm__ volatile("" ::: "memory")
#else
#define TCC_COUNT_MARK_(option) ((void)0)
#endif

#define TCC_COUNT_BEGIN(id) TCC_COUNT_MARK_((id) & 7)
#define TCC_COUNT_END(id) TCC_COUNT_MARK_(8 + ((id) & 7))

#endif /* TCC_COUNT_H */

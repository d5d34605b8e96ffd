/* semihost.c - ARM semihosting calls for Cortex-M (see semihost.h). */
#include "semihost.h"

#include <stdint.h>

#define TCC_ADP_STOPPED_APPLICATION_EXIT 0x20026u

int tcc_semihost_call(int op, void *arg) {
  register int r0 __asm__("r0") = op;
  register void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void tcc_semihost_exit(int code) {
  uint32_t block[2] = {TCC_ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
  tcc_semihost_call(TCC_SYS_EXIT_EXTENDED, block);
  for (;;) {
  } /* not reached when a semihosting host is attached */
}

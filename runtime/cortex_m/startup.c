/*
 * startup.c - Cortex-M start-up for tcc programs run under semihosting.
 *
 * Provides the vector table, the reset handler (copy .data, zero .bss, enable
 * the FPU, start newlib's semihosted stdio, run main, exit with main's return
 * value), fault handlers that report and exit with TCC_FAULT_EXIT_CODE, and a
 * bounded _sbrk for newlib's malloc. Memory symbols come from stm32f746.ld.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "semihost.h"

#define TCC_FAULT_EXIT_CODE 0x7F
#define TCC_SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* Linker-script symbols. */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];
extern char end[], _heap_end[];

int main(void);
void initialise_monitor_handles(void); /* newlib rdimon */

void tcc_reset_handler(void) __attribute__((noreturn));
void tcc_nmi_handler(void) __attribute__((noreturn));
void tcc_hardfault_handler(void) __attribute__((noreturn));
void tcc_memmanage_handler(void) __attribute__((noreturn));
void tcc_busfault_handler(void) __attribute__((noreturn));
void tcc_usagefault_handler(void) __attribute__((noreturn));
void tcc_unexpected_handler(void) __attribute__((noreturn));

typedef void (*tcc_vector)(void);

/* Cortex-M system exceptions 0..15; no device interrupts are used. */
__attribute__((section(".isr_vector"), used))
const tcc_vector tcc_vector_table[16] = {
    (tcc_vector)_estack,    /* initial stack pointer */
    tcc_reset_handler,      /* Reset */
    tcc_nmi_handler,        /* NMI */
    tcc_hardfault_handler,  /* HardFault */
    tcc_memmanage_handler,  /* MemManage */
    tcc_busfault_handler,   /* BusFault */
    tcc_usagefault_handler, /* UsageFault */
    0, 0, 0, 0,             /* reserved */
    tcc_unexpected_handler, /* SVCall */
    tcc_unexpected_handler, /* DebugMonitor */
    0,                      /* reserved */
    tcc_unexpected_handler, /* PendSV */
    tcc_unexpected_handler, /* SysTick */
};

void tcc_reset_handler(void) {
  /* Full access to CP10/CP11 (the FPU) before any float instruction. */
  TCC_SCB_CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");

  /* volatile keeps GCC from turning these loops into memcpy/memset calls. */
  const uint32_t *src = _sidata;
  volatile uint32_t *dst = _sdata;
  while (dst < _edata) *dst++ = *src++;
  for (dst = _sbss; dst < _ebss;) *dst++ = 0;

  initialise_monitor_handles();
  int rc = main();
  fflush(NULL);
  tcc_semihost_exit(rc);
}

/* Writes `msg` to the semihosting console and exits with a fault code. */
static void tcc_fault_exit(const char *msg) __attribute__((noreturn));
static void tcc_fault_exit(const char *msg) {
  tcc_semihost_call(TCC_SYS_WRITE0, (void *)msg);
  tcc_semihost_exit(TCC_FAULT_EXIT_CODE);
}

void tcc_nmi_handler(void) { tcc_fault_exit("NMI\n"); }
void tcc_hardfault_handler(void) { tcc_fault_exit("HardFault\n"); }
void tcc_memmanage_handler(void) { tcc_fault_exit("MemManage\n"); }
void tcc_busfault_handler(void) { tcc_fault_exit("BusFault\n"); }
void tcc_usagefault_handler(void) { tcc_fault_exit("UsageFault\n"); }
void tcc_unexpected_handler(void) { tcc_fault_exit("Unexpected exception\n"); }

/* newlib's heap hook: grows from `end` up to `_heap_end` (the heap reserved
 * by the linker script), never into the stack. Overrides rdimon's weak one. */
void *_sbrk(ptrdiff_t incr) {
  static char *tcc_brk = end;
  if (incr > _heap_end - tcc_brk || incr < end - tcc_brk) {
    errno = ENOMEM;
    return (void *)-1;
  }
  char *prev = tcc_brk;
  tcc_brk += incr;
  return prev;
}

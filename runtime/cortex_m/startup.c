/*
 * startup.c - Cortex-M start-up for tcc programs run under semihosting.
 *
 * Provides the vector table, the reset handler (switch thread mode to the process
 * stack, copy .data, zero .bss, enable the FPU, paint the stack, arm the stack guard,
 * start newlib's semihosted stdio, run main, report the stack high-water mark, exit
 * with main's return value), fault handlers that report and exit with
 * TCC_FAULT_EXIT_CODE (TCC_STACK_OVERFLOW_EXIT_CODE for a stack overflow), and a
 * bounded _sbrk for newlib's malloc. Memory symbols come from stm32f746.ld.
 *
 * Stacks: main runs on the process stack (PSP, TCC_STACK_SIZE bytes below _estack);
 * exceptions run on a separate handler stack (MSP), so a fault raised by a stack
 * overflow can still be reported. The guard is an MPU region of 32 no-access bytes
 * right below the process stack: any access to it is a MemManage fault.
 * The high-water mark: the stack is filled with TCC_STACK_PAINT at reset; at exit the
 * lowest word that changed tells how deep it went ("tcc: stack N of M bytes" on the
 * semihosting console, parsed by runtime/cortex_m_runner.py).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "semihost.h"

#define TCC_FAULT_EXIT_CODE 0x7F
#define TCC_STACK_OVERFLOW_EXIT_CODE 0x7E
#define TCC_STACK_PAINT 0xC5C5C5C5u
#define TCC_SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define TCC_SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)
#define TCC_SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define TCC_SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define TCC_MPU_CTRL (*(volatile uint32_t *)0xE000ED94u)
#define TCC_MPU_RNR (*(volatile uint32_t *)0xE000ED98u)
#define TCC_MPU_RBAR (*(volatile uint32_t *)0xE000ED9Cu)
#define TCC_MPU_RASR (*(volatile uint32_t *)0xE000EDA0u)

/* Linker-script symbols. */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];
extern uint32_t _sstack[], _stack_guard[], _handler_stack_top[];
extern char end[], _heap_end[];

int main(void);
void initialise_monitor_handles(void); /* newlib rdimon */

void tcc_reset_handler(void) __attribute__((naked, noreturn));
void tcc_start(void) __attribute__((noreturn, used));
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
    (tcc_vector)_handler_stack_top, /* initial MSP: the handler stack */
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

/* Thread mode switches to the process stack (CONTROL.SPSEL) before any C code. */
void tcc_reset_handler(void) {
  __asm__ volatile(
      "movw r0, #:lower16:_estack\n\t"
      "movt r0, #:upper16:_estack\n\t"
      "msr psp, r0\n\t"
      "movs r0, #2\n\t"
      "msr control, r0\n\t"
      "isb\n\t"
      "b tcc_start\n\t");
}

/* Fills the process stack below the caller's frame with TCC_STACK_PAINT. */
static void tcc_paint_stack(void) {
  uint32_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (volatile uint32_t *p = _sstack; (uint32_t)p < sp - 64u; ++p) *p = TCC_STACK_PAINT;
}

/* Bytes of process stack ever used: from the lowest changed word to the top. */
static uint32_t tcc_stack_used(void) {
  const volatile uint32_t *p = _sstack;
  while (p < _estack && *p == TCC_STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)_estack - (uintptr_t)p);
}

/* MPU region 0: the 32 bytes below the stack, no access, never executable
 * (RASR: XN, AP = 0, SIZE = 4 for 2^(4+1) bytes); the default map elsewhere. */
static void tcc_arm_stack_guard(void) {
  TCC_MPU_RNR = 0;
  TCC_MPU_RBAR = (uint32_t)(uintptr_t)_stack_guard;
  TCC_MPU_RASR = (1u << 28) | (4u << 1) | 1u;
  TCC_MPU_CTRL = (1u << 2) | 1u; /* PRIVDEFENA | ENABLE */
  TCC_SCB_SHCSR |= 1u << 16;     /* MemManage faults get their own handler */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
}

/* Writes decimal `value` into `out` (at least 11 bytes); returns the end. */
static char *tcc_format_u32(char *out, uint32_t value) {
  char digits[10];
  int n = 0;
  do digits[n++] = (char)('0' + value % 10u); while ((value /= 10u) != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

static void tcc_report_stack(void) {
  static const char head[] = "tcc: stack ", mid[] = " of ", tail[] = " bytes\n";
  char line[64], *p = line;
  for (const char *s = head; *s; ++s) *p++ = *s;
  p = tcc_format_u32(p, tcc_stack_used());
  for (const char *s = mid; *s; ++s) *p++ = *s;
  p = tcc_format_u32(p, (uint32_t)((uintptr_t)_estack - (uintptr_t)_sstack));
  for (const char *s = tail; *s; ++s) *p++ = *s;
  *p = '\0';
  tcc_semihost_call(TCC_SYS_WRITE0, line);
}

void tcc_start(void) {
#if defined(__ARM_FP)
  /* Full access to CP10/CP11 (the FPU) before any float instruction. */
  TCC_SCB_CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif

  /* volatile keeps GCC from turning these loops into memcpy/memset calls. */
  const uint32_t *src = _sidata;
  volatile uint32_t *dst = _sdata;
  while (dst < _edata) *dst++ = *src++;
  for (dst = _sbss; dst < _ebss;) *dst++ = 0;

  tcc_paint_stack();
  tcc_arm_stack_guard();
  initialise_monitor_handles();
  int rc = main();
  fflush(NULL);
  tcc_report_stack();
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
/* A MemManage fault from the guard (or from pushing an exception frame below the
 * stack) is a stack overflow. */
void tcc_memmanage_handler(void) {
  const uint32_t cfsr = TCC_SCB_CFSR;
  const uint32_t guard = (uint32_t)(uintptr_t)_stack_guard;
  const int stacking = (cfsr & (1u << 4)) != 0;                      /* MSTKERR */
  const int in_guard = (cfsr & (1u << 7)) != 0 &&                    /* MMARVALID */
                       TCC_SCB_MMFAR - guard < 32u;
  if (stacking || in_guard) {
    tcc_semihost_call(TCC_SYS_WRITE0, (void *)"stack overflow\n");
    tcc_semihost_exit(TCC_STACK_OVERFLOW_EXIT_CODE);
  }
  tcc_fault_exit("MemManage\n");
}
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

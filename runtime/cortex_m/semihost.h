/*
 * semihost.h - minimal ARM semihosting calls (bkpt 0xAB) for Cortex-M.
 *
 * Used by the start-up code to report faults and to return an exact exit code
 * to the debugger or emulator (qemu: -semihosting-config enable=on).
 */
#ifndef TCC_SEMIHOST_H
#define TCC_SEMIHOST_H

#define TCC_SYS_WRITE0 0x04        /* write a NUL-terminated string */
#define TCC_SYS_EXIT_EXTENDED 0x20 /* exit with reason + exact subcode */

/* Issues semihosting operation `op` with parameter `arg`; returns r0. */
int tcc_semihost_call(int op, void *arg);

/* Ends the program with exit code `code` (SYS_EXIT_EXTENDED, reason
 * ADP_Stopped_ApplicationExit); never returns. */
void tcc_semihost_exit(int code) __attribute__((noreturn));

#endif /* TCC_SEMIHOST_H */

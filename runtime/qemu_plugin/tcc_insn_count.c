/*
 * tcc_insn_count.c - a QEMU 7.2 TCG plugin counting the guest instructions a Cortex-M
 * program executes, in total and between the DBG markers of tcc_count.h.
 *
 *   qemu-system-arm ... -plugin ./libtcc_insn_count.so,out=counts.txt[,markers=off]
 *
 * Every instruction gets an inline `counter += 1` before it executes, so a count is
 * exact even when a translation block is left early (a semihosting call, a fault).
 * Marker instructions (Thumb-2 `DBG #0..15`, bytes AF F3 Fx 80) get a callback instead
 * and are not counted: region `id` (0..7) runs from `DBG #id` to `DBG #(8 + id)`.
 * With markers=off every instruction, DBG included, is just counted.
 *
 * At exit, `out` receives lines (all numbers decimal):
 *   total N                      instructions executed
 *   region ID INSTRUCTIONS ENTRIES   one per region id that was entered
 *   event ID INSTRUCTIONS        one per completed entry, in execution order
 *   events_dropped N             entries not logged (the log keeps the first 1M)
 *   error TEXT                   a marker misuse (end without begin, nested begin)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = TCC_QEMU_PLUGIN_VERSION;

#define REGIONS 8
#define MAX_EVENTS (1u << 20)

typedef struct {
  uint8_t id;
  uint64_t instructions;
} Event;

static uint64_t counter;            /* instructions executed so far */
static int use_markers = 1;
static char *out_path;
static uint64_t start[REGIONS], sum[REGIONS], entries[REGIONS];
static int active[REGIONS];
static Event *events;
static size_t n_events, cap_events;
static uint64_t dropped;
static char error[160];

static void set_error(const char *what, unsigned id) {
  if (error[0] == '\0') snprintf(error, sizeof error, "%s (region %u)", what, id);
}

static void log_event(unsigned id, uint64_t instructions) {
  if (n_events == cap_events) {
    size_t cap = cap_events ? 2 * cap_events : 1024;
    Event *grown = cap <= MAX_EVENTS ? realloc(events, cap * sizeof *grown) : NULL;
    if (grown == NULL) {
      ++dropped;
      return;
    }
    events = grown;
    cap_events = cap;
  }
  events[n_events].id = (uint8_t)id;
  events[n_events].instructions = instructions;
  ++n_events;
}

/* Runs before a marker executes; `counter` then holds every instruction before it. */
static void on_marker(unsigned int vcpu, void *userdata) {
  unsigned option = (unsigned)(uintptr_t)userdata;
  unsigned id = option & 7;
  (void)vcpu;
  if (option < 8) {
    if (active[id]) set_error("region begun twice without an end", id);
    active[id] = 1;
    start[id] = counter;
    return;
  }
  if (!active[id]) {
    set_error("region ended without a begin", id);
    return;
  }
  active[id] = 0;
  sum[id] += counter - start[id];
  ++entries[id];
  log_event(id, counter - start[id]);
}

/* The DBG option (0..15) if `insn` is a Thumb-2 DBG hint, else -1. */
static int marker_option(const struct qemu_plugin_insn *insn) {
  const uint8_t *b = qemu_plugin_insn_data(insn);
  if (qemu_plugin_insn_size(insn) != 4) return -1;
  if (b[0] != 0xAF || b[1] != 0xF3 || (b[2] & 0xF0) != 0xF0 || b[3] != 0x80) return -1;
  return b[2] & 0x0F;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb);
  (void)id;
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    int option = use_markers ? marker_option(insn) : -1;
    if (option >= 0)
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)option);
    else
      qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                 &counter, 1);
  }
}

static void write_counts(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  FILE *f = fopen(out_path, "w");
  if (f == NULL) {
    qemu_plugin_outs("tcc_insn_count: cannot write the output file\n");
    return;
  }
  fprintf(f, "total %" PRIu64 "\n", counter);
  for (unsigned r = 0; r < REGIONS; ++r)
    if (entries[r] || active[r])
      fprintf(f, "region %u %" PRIu64 " %" PRIu64 "\n", r, sum[r], entries[r]);
  for (size_t e = 0; e < n_events; ++e)
    fprintf(f, "event %u %" PRIu64 "\n", (unsigned)events[e].id, events[e].instructions);
  if (dropped) fprintf(f, "events_dropped %" PRIu64 "\n", dropped);
  for (unsigned r = 0; r < REGIONS; ++r)
    if (active[r]) set_error("region begun but never ended", r);
  if (error[0]) fprintf(f, "error %s\n", error);
  fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "out=", 4) == 0) {
      free(out_path);
      out_path = strdup(argv[i] + 4); /* qemu frees argv after install */
    } else if (strcmp(argv[i], "markers=off") == 0) {
      use_markers = 0;
    } else if (strcmp(argv[i], "markers=on") != 0) {
      fprintf(stderr, "tcc_insn_count: unknown argument '%s'\n", argv[i]);
      return -1;
    }
  }
  if (out_path == NULL) {
    fprintf(stderr, "tcc_insn_count: needs out=FILE\n");
    return -1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, write_counts, NULL);
  return 0;
}

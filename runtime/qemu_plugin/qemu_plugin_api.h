/*
 * qemu_plugin_api.h - the part of QEMU's TCG plugin API (plugin API version 1, as in
 * QEMU 7.2's include/qemu/qemu-plugin.h) that tcc_insn_count.c uses.
 *
 * Debian's qemu-system-arm 7.2 loads plugins but ships no qemu-plugin.h, so these are
 * the declarations of that release, written out. The functions are exported by the
 * qemu executable and resolved when qemu dlopen()s the plugin. Version 2 (QEMU 9.0)
 * changed some of them (qemu_plugin_insn_data copies into a buffer; the *_inline
 * registrations became *_inline_per_vcpu): this file is for version 1 only.
 */
#ifndef TCC_QEMU_PLUGIN_API_H
#define TCC_QEMU_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
#define TCC_QEMU_PLUGIN_VERSION 1

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through by pointer */
struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags {
  QEMU_PLUGIN_CB_NO_REGS,
  QEMU_PLUGIN_CB_R_REGS,
  QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_op {
  QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);

/* Called once per translation block as it is translated. */
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           qemu_plugin_vcpu_tb_trans_cb_t cb);
/* Called when qemu exits (also on a guest's semihosting exit). */
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                    void *userdata);

size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
                                                 size_t idx);
/* The instruction's bytes in guest memory order; valid during the translation cb. */
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);

/* `cb` runs before the instruction executes, each time it executes. */
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags,
                                            void *userdata);
/* `*ptr += imm` inlined in the generated code before the instruction executes. */
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op, void *ptr,
                                                uint64_t imm);

void qemu_plugin_outs(const char *string);

#endif /* TCC_QEMU_PLUGIN_API_H */

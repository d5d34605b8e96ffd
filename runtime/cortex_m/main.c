/*
 * main.c - generic training harness for a tcc-generated model (model.h).
 *
 * Reads train_data.bin from the current directory (on the target, qemu's
 * semihosting maps it to the host's working directory):
 *   magic, uint32 n_steps, uint32 input_size, uint32 batch   (little-endian)
 *   n_steps x { tcc_input_t input[input_size]; int32 labels[batch] }
 * tcc_input_t is the model's input element type (float, or int8_t for an
 * int8 model). Calls tcc_model_init() once and tcc_model_train_step() per
 * step, printing "step <i> loss <loss>" to stdout, then writes every
 * trainable parameter's stored bytes, in tcc_model_param order, to
 * train_params.bin: once at the end with magic "TCCD", after every step with
 * magic "TCCP" (for checking each update against a reference).
 * Returns 0, or TCC_EXIT_DATA_ERROR after a one-line message on stderr if a
 * file is missing, malformed or cannot be written.
 * Builds for the host (plain stdio) and the target (newlib rdimon); both are
 * little-endian, so the payloads are read directly.
 */
#include <stdint.h>
#include <stdio.h>

#include "model.h"

#define TCC_EXIT_DATA_ERROR 2
#define TCC_DATA_FILE "train_data.bin"
#define TCC_PARAMS_FILE "train_params.bin"

#ifdef TCC_HAS_INPUT_SLOTS
/* Each step's input is read straight into its slot in the model's arena. */
#define TCC_STEP_INPUT tcc_model_train_input()
#else
static tcc_input_t tcc_input[TCC_INPUT_SIZE];
#define TCC_STEP_INPUT tcc_input
#endif
static int32_t tcc_labels[TCC_BATCH];

/* Decodes a little-endian uint32. */
static uint32_t tcc_read_u32le(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
}

/* Prints `file: msg` to stderr, closes `f` and `g` (if any) and returns the
 * error code. */
static int tcc_fail(FILE *f, FILE *g, const char *file, const char *msg) {
  fprintf(stderr, "error: %s: %s\n", file, msg);
  if (f != NULL) fclose(f);
  if (g != NULL) fclose(g);
  return TCC_EXIT_DATA_ERROR;
}

/* Appends every trainable parameter's bytes to `out`; 0 on success. */
static int tcc_write_params(FILE *out) {
  for (int32_t i = 0; i < tcc_model_num_params(); ++i) {
    const tcc_param p = tcc_model_param(i);
    const size_t bytes = (size_t)p.size * (size_t)p.bytes;
    if (fwrite(p.data, 1, bytes, out) != bytes) return 1;
  }
  return 0;
}

int main(void) {
  FILE *f = fopen(TCC_DATA_FILE, "rb");
  if (f == NULL) return tcc_fail(NULL, NULL, TCC_DATA_FILE, "cannot open");

  unsigned char header[16];
  if (fread(header, 1, sizeof header, f) != sizeof header)
    return tcc_fail(f, NULL, TCC_DATA_FILE, "short header");
  if (header[0] != 'T' || header[1] != 'C' || header[2] != 'C' ||
      (header[3] != 'D' && header[3] != 'P'))
    return tcc_fail(f, NULL, TCC_DATA_FILE, "bad magic (expected TCCD or TCCP)");
  const int every_step = header[3] == 'P';
  const uint32_t n_steps = tcc_read_u32le(header + 4);
  if (tcc_read_u32le(header + 8) != TCC_INPUT_SIZE)
    return tcc_fail(f, NULL, TCC_DATA_FILE, "input_size does not match TCC_INPUT_SIZE");
  if (tcc_read_u32le(header + 12) != TCC_BATCH)
    return tcc_fail(f, NULL, TCC_DATA_FILE, "batch does not match TCC_BATCH");

  FILE *out = fopen(TCC_PARAMS_FILE, "wb");
  if (out == NULL) return tcc_fail(f, NULL, TCC_PARAMS_FILE, "cannot create");
  tcc_model_init();
  for (uint32_t i = 0; i < n_steps; ++i) {
    tcc_input_t *tcc_input_now = TCC_STEP_INPUT;
    if (fread(tcc_input_now, sizeof tcc_input_now[0], TCC_INPUT_SIZE, f) !=
            TCC_INPUT_SIZE ||
        fread(tcc_labels, sizeof tcc_labels[0], TCC_BATCH, f) != TCC_BATCH)
      return tcc_fail(f, out, TCC_DATA_FILE, "short read");
    const float loss = tcc_model_train_step(tcc_input_now, tcc_labels);
    printf("step %lu loss %.9e\n", (unsigned long)i, (double)loss);
    if (every_step && tcc_write_params(out) != 0)
      return tcc_fail(f, out, TCC_PARAMS_FILE, "short write");
  }
  if (!every_step && tcc_write_params(out) != 0)
    return tcc_fail(f, out, TCC_PARAMS_FILE, "short write");
  fclose(f);
  fclose(out);
  return 0;
}

/*
 * main.c - generic training harness for a tcc-generated model (model.h).
 *
 * Reads train_data.bin from the current directory (on the target, qemu's
 * semihosting maps it to the host's working directory):
 *   "TCCD", uint32 n_steps, uint32 input_size, uint32 batch   (little-endian)
 *   n_steps x { float32 input[input_size]; int32 labels[batch] }
 * Calls tcc_model_init() once and tcc_model_train_step() per step, printing
 * "step <i> loss <loss>" to stdout. Returns 0, or TCC_EXIT_DATA_ERROR after a
 * one-line message on stderr if the data file is missing or malformed.
 * Builds for the host (plain stdio) and the target (newlib rdimon); both are
 * little-endian, so float32/int32 payloads are read directly.
 */
#include <stdint.h>
#include <stdio.h>

#include "model.h"

#define TCC_EXIT_DATA_ERROR 2
#define TCC_DATA_FILE "train_data.bin"

static float tcc_input[TCC_INPUT_SIZE];
static int32_t tcc_labels[TCC_BATCH];

/* Decodes a little-endian uint32. */
static uint32_t tcc_read_u32le(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
}

/* Prints `msg` to stderr, closes `f` (if any) and returns the error code. */
static int tcc_fail(FILE *f, const char *msg) {
  fprintf(stderr, "error: %s: %s\n", TCC_DATA_FILE, msg);
  if (f != NULL) fclose(f);
  return TCC_EXIT_DATA_ERROR;
}

int main(void) {
  FILE *f = fopen(TCC_DATA_FILE, "rb");
  if (f == NULL) return tcc_fail(NULL, "cannot open");

  unsigned char header[16];
  if (fread(header, 1, sizeof header, f) != sizeof header)
    return tcc_fail(f, "short header");
  if (header[0] != 'T' || header[1] != 'C' || header[2] != 'C' ||
      header[3] != 'D')
    return tcc_fail(f, "bad magic (expected TCCD)");
  const uint32_t n_steps = tcc_read_u32le(header + 4);
  if (tcc_read_u32le(header + 8) != TCC_INPUT_SIZE)
    return tcc_fail(f, "input_size does not match TCC_INPUT_SIZE");
  if (tcc_read_u32le(header + 12) != TCC_BATCH)
    return tcc_fail(f, "batch does not match TCC_BATCH");

  tcc_model_init();
  for (uint32_t i = 0; i < n_steps; ++i) {
    if (fread(tcc_input, sizeof tcc_input[0], TCC_INPUT_SIZE, f) !=
            TCC_INPUT_SIZE ||
        fread(tcc_labels, sizeof tcc_labels[0], TCC_BATCH, f) != TCC_BATCH)
      return tcc_fail(f, "short read");
    const float loss = tcc_model_train_step(tcc_input, tcc_labels);
    printf("step %lu loss %.9e\n", (unsigned long)i, (double)loss);
  }
  fclose(f);
  return 0;
}

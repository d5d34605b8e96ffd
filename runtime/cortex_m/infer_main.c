/*
 * infer_main.c - inference harness for a tcc-generated model without a
 * training step (model.h with one data input).
 *
 * Reads infer_input.bin from the current directory (on the target, qemu's
 * semihosting maps it to the host's working directory): n_samples x
 * TCC_INPUT_SIZE raw tcc_input_t values (little-endian), n_samples >= 1. Calls
 * tcc_model_init() once and tcc_model_infer() per sample, appending its
 * TCC_OUTPUT_SIZE tcc_output_t values to infer_output.bin. Returns 0, or
 * TCC_EXIT_DATA_ERROR after a one-line message on stderr.
 */
#include <stdint.h>
#include <stdio.h>

#include "model.h"

#define TCC_EXIT_DATA_ERROR 2
#define TCC_INPUT_FILE "infer_input.bin"
#define TCC_OUTPUT_FILE "infer_output.bin"

static tcc_input_t tcc_input[TCC_INPUT_SIZE];
static tcc_output_t tcc_output[TCC_OUTPUT_SIZE];

/* Prints `msg` to stderr, closes the files (if open) and returns the error code. */
static int tcc_fail(FILE *in, FILE *out, const char *msg) {
  fprintf(stderr, "error: %s\n", msg);
  if (in != NULL) fclose(in);
  if (out != NULL) fclose(out);
  return TCC_EXIT_DATA_ERROR;
}

int main(void) {
  FILE *in = fopen(TCC_INPUT_FILE, "rb");
  if (in == NULL) return tcc_fail(NULL, NULL, TCC_INPUT_FILE ": cannot open");
  FILE *out = fopen(TCC_OUTPUT_FILE, "wb");
  if (out == NULL) return tcc_fail(in, NULL, TCC_OUTPUT_FILE ": cannot create");
  tcc_model_init();
  uint32_t samples = 0;
  while (fread(tcc_input, sizeof tcc_input[0], TCC_INPUT_SIZE, in) == TCC_INPUT_SIZE) {
    tcc_model_infer(tcc_input, tcc_output);
    if (fwrite(tcc_output, sizeof tcc_output[0], TCC_OUTPUT_SIZE, out) != TCC_OUTPUT_SIZE)
      return tcc_fail(in, out, TCC_OUTPUT_FILE ": short write");
    ++samples;
  }
  if (samples == 0 || !feof(in))
    return tcc_fail(in, out, TCC_INPUT_FILE ": not a whole number of inputs");
  fclose(in);
  fclose(out);
  return 0;
}

/*
 * infer_main.c - run harness for a tcc-generated model (model.h with one data input):
 * inference over samples, or, built with TCC_RUN_STEP defined, one training step.
 * Files are in the current directory (on the target, qemu's semihosting maps them to
 * the host's working directory). Returns 0, or TCC_EXIT_DATA_ERROR after a one-line
 * message on stderr.
 *
 * Inference: reads infer_input.bin, n_samples x TCC_INPUT_SIZE raw tcc_input_t values
 * (little-endian), n_samples >= 1. Calls tcc_model_init() once and tcc_model_infer()
 * per sample, appending its TCC_OUTPUT_SIZE tcc_output_t values to infer_output.bin.
 *
 * Training step (TCC_RUN_STEP; `tcc run --target=cortex-m7 --function train_step`):
 * reads step_input.bin: TCC_INPUT_SIZE tcc_input_t values, TCC_BATCH int32 labels, uint32 n, then
 * n uint32 byte sizes (one per trainable parameter of model.h's table). Runs
 * tcc_model_init() and one tcc_model_train_step(), then writes step_output.bin: the
 * float loss, then per parameter its uint32 name length, name and updated bytes.
 *
 * Instruction counts (runtime/instruction_count.py): each tcc_model_infer() call, or
 * the training step, is marked as region 0 (tcc_count.h; the markers are no-ops).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "tcc_count.h"

#define TCC_EXIT_DATA_ERROR 2

/* Prints `msg` to stderr, closes the files (if open) and returns the error code. */
static int tcc_fail(FILE *in, FILE *out, const char *msg) {
  fprintf(stderr, "error: %s\n", msg);
  if (in != NULL) fclose(in);
  if (out != NULL) fclose(out);
  return TCC_EXIT_DATA_ERROR;
}

#ifndef TCC_RUN_STEP

#define TCC_INPUT_FILE "infer_input.bin"
#define TCC_OUTPUT_FILE "infer_output.bin"

#ifdef TCC_HAS_INPUT_SLOTS
/* Each input is read straight into its slot in the model's arena. */
#define TCC_INFER_INPUT tcc_model_infer_input()
#else
static tcc_input_t tcc_input_buffer[TCC_INPUT_SIZE];
#define TCC_INFER_INPUT tcc_input_buffer
#endif
static tcc_output_t tcc_output[TCC_OUTPUT_SIZE];

int main(void) {
  FILE *in = fopen(TCC_INPUT_FILE, "rb");
  if (in == NULL) return tcc_fail(NULL, NULL, TCC_INPUT_FILE ": cannot open");
  FILE *out = fopen(TCC_OUTPUT_FILE, "wb");
  if (out == NULL) return tcc_fail(in, NULL, TCC_OUTPUT_FILE ": cannot create");
  tcc_model_init();
  uint32_t samples = 0;
  tcc_input_t *const tcc_input = TCC_INFER_INPUT;
  while (fread(tcc_input, sizeof tcc_input[0], TCC_INPUT_SIZE, in) == TCC_INPUT_SIZE) {
    TCC_COUNT_BEGIN(0);
    tcc_model_infer(tcc_input, tcc_output);
    TCC_COUNT_END(0);
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

#else /* TCC_RUN_STEP */

#define TCC_INPUT_FILE "step_input.bin"
#define TCC_OUTPUT_FILE "step_output.bin"

#ifdef TCC_HAS_INPUT_SLOTS
#define TCC_STEP_INPUT tcc_model_train_input()
#else
static tcc_input_t tcc_input_buffer[TCC_INPUT_SIZE];
#define TCC_STEP_INPUT tcc_input_buffer
#endif
static int32_t tcc_labels[TCC_BATCH];

int main(void) {
  tcc_input_t *const tcc_input = TCC_STEP_INPUT;
  FILE *in = fopen(TCC_INPUT_FILE, "rb");
  if (in == NULL) return tcc_fail(NULL, NULL, TCC_INPUT_FILE ": cannot open");
  uint32_t n = 0;
  if (fread(tcc_input, sizeof tcc_input[0], TCC_INPUT_SIZE, in) != TCC_INPUT_SIZE ||
      fread(tcc_labels, sizeof tcc_labels[0], TCC_BATCH, in) != TCC_BATCH ||
      fread(&n, sizeof n, 1, in) != 1)
    return tcc_fail(in, NULL, TCC_INPUT_FILE ": short read");
  if ((int32_t)n != tcc_model_num_params())
    return tcc_fail(in, NULL, TCC_INPUT_FILE ": wrong number of parameters");
  tcc_model_init();
  TCC_COUNT_BEGIN(0);
  const float loss = tcc_model_train_step(tcc_input, tcc_labels);
  TCC_COUNT_END(0);
  FILE *out = fopen(TCC_OUTPUT_FILE, "wb");
  if (out == NULL) return tcc_fail(in, NULL, TCC_OUTPUT_FILE ": cannot create");
  if (fwrite(&loss, sizeof loss, 1, out) != 1)
    return tcc_fail(in, out, TCC_OUTPUT_FILE ": short write");
  for (int32_t i = 0; i < tcc_model_num_params(); ++i) {
    const tcc_param p = tcc_model_param(i);
    uint32_t bytes = 0, name_length = (uint32_t)strlen(p.name);
    if (fread(&bytes, sizeof bytes, 1, in) != 1)
      return tcc_fail(in, out, TCC_INPUT_FILE ": short read");
    if (fwrite(&name_length, sizeof name_length, 1, out) != 1 ||
        fwrite(p.name, 1, name_length, out) != name_length ||
        fwrite(p.data, 1, bytes, out) != bytes)
      return tcc_fail(in, out, TCC_OUTPUT_FILE ": short write");
  }
  fclose(in);
  fclose(out);
  return 0;
}

#endif /* TCC_RUN_STEP */

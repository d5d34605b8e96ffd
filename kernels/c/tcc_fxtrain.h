/*
 * tcc_fxtrain.h - the int16 fixed-point backward pass (--train-int16-gradients):
 * integer arithmetic only, for parts without an FPU. The semantics, bit for bit,
 * are runtime/fixed_point.py's.
 *
 * A gradient tensor stores int16 q meaning q * 2^e (e fixed per tensor at compile
 * time); a bias gradient is its exact int32 sum. Real factors (weight scales,
 * learning rates, 1/count) arrive as compile-time multipliers k * 2^-q with 15-bit
 * k; products are exact in int64 and rounded once by tcc_fx_round_shift (to
 * nearest, ties away from zero), then saturated.
 */
#ifndef TCC_FXTRAIN_H
#define TCC_FXTRAIN_H

#include <stdint.h>

#include "tcc_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x / 2^n rounded to nearest, ties away from zero (n > 0); x * 2^-n (n <= 0). */
static inline int64_t tcc_fx_round_shift(int64_t x, int32_t n) {
  if (n <= 0) return x * ((int64_t)1 << -n);
  if (n >= 63) return 0;
  const int64_t half = (int64_t)1 << (n - 1);
  return x >= 0 ? (x + half) >> n : -((-x + half) >> n);
}

static inline int16_t tcc_fx_sat16(int64_t x) {
  return (int16_t)(x < -32768 ? -32768 : x > 32767 ? 32767 : x);
}

static inline int32_t tcc_fx_sat32(int64_t x) {
  return (int32_t)(x < INT32_MIN ? INT32_MIN : x > INT32_MAX ? INT32_MAX : x);
}

/* An int8 weight [O][C/groups][KH][KW], whole or split along `axis` (0 or 1)
 * into its first `k` channels (`trained`) and the others (`rest`). */
typedef struct {
  const int8_t *trained, *rest;
  int32_t axis, k;          /* k = the full extent when not split */
} tcc_fx_weight;

/* dx = (softmax(x) - onehot) / n in Q0.15 from int8 logits [n][classes]:
 * p = (T[max - q] * 2^15 + S / 2) / S with S the row's sum of T (table[256]).
 * With `shift` (else NULL), dx is then scaled by 2^k, k <= 15 the largest that
 * keeps every value in int16, and *shift = k (dynamic loss scaling). */
void tcc_fx_cross_entropy_grad_s8(const int8_t *logits, const int32_t *labels,
                                  int16_t *dx, int32_t n, int32_t classes,
                                  const int32_t *table, int32_t *shift);

/* dx[i] = bit i of mask ? dy[i] : 0; dx may alias dy. */
void tcc_fx_mask_grad_s16(const int16_t *dy, const int8_t *mask, int16_t *dx,
                          int32_t size);

/* y[i] = sat16(a[i] + b[i]); y may alias a or b. */
void tcc_fx_add_s16(const int16_t *a, const int16_t *b, int16_t *y, int32_t size);

/* db[c] = sat32(sum of dy[n][c][i] over n and i < inner). */
void tcc_fx_bias_grad_s16(const int16_t *dy, int32_t *db, int32_t n, int32_t c,
                          int32_t inner);

/* dx = sat16(round_shift(sum (dy[o] * m[o]) * w[o][c][tap], shift)): the input
 * gradient of a conv (p: the forward's shapes, x = dx). */
void tcc_fx_conv2d_grad_input_s16(const int16_t *dy, const tcc_fx_weight *w,
                                  const int32_t *m, int32_t shift, int16_t *dx,
                                  const tcc_conv2d_params *p);

/* dx = sat16(round_shift(k * sum of the dy of the windows holding it, q)); one
 * divisor for every window (folded into k). */
void tcc_fx_avg_pool2d_grad_s16(const int16_t *dy, int16_t *dx,
                                const tcc_pool2d_params *p, int32_t k, int32_t q);

/* The update of train.qsgd from an integer gradient: per channel c, k[c] * 2^-q[c]
 * codes per gradient unit (k 0: a dead channel, left as it is) divided by 2^shift
 * (the loss gradient's dynamic scale), and the weight decay kd * 2^-qd per code
 * above the zero point. */
typedef struct {
  const int32_t *k, *q;
  int32_t kd, qd, zero_point, qmin, qmax, shift;
} tcc_fx_update;

/* b[i] = sat(b[i] - round_shift(g[i] * k[c], q[c]) - decay), c = i / inner. */
void tcc_fx_qsgd_s32(int32_t *b, const int32_t *g, int32_t size, int32_t inner,
                     const tcc_fx_update *u);

/* train.conv2d_qsgd: G[o][c][tap] = sum dy[n][o][i][j] * (x - zx) exactly, for
 * the gradient's first go x gc channels of the stored weight [wo][wc][KH][KW],
 * then the update of tcc_fx_qsgd_s32 into the int8 weight (p: the forward's
 * shapes with the gradient's channels). */
void tcc_fx_conv2d_qsgd_s8(int8_t *w, const int16_t *dy, const int8_t *x, int32_t zx,
                           int32_t wc, const tcc_conv2d_params *p,
                           const tcc_fx_update *u);

#ifdef __cplusplus
}
#endif

#endif /* TCC_FXTRAIN_H */

/*
 * tcc_kernels.h - fp32 reference kernels for tcc-generated training code.
 *
 * Plain C99: no allocation, no globals. Layouts follow PyTorch: activations
 * NCHW, conv weights OIHW, linear weights [out, in], all row-major and
 * contiguous. Sizes are int32_t element counts.
 *
 * Determinism: every reduction accumulates in float, starting from 0.0f and
 * adding terms in increasing index order of the summed indices (outermost
 * summed index first, as listed in each comment); a bias is added after the
 * sum. Results are therefore bit-identical on any IEEE-754 target compiled
 * with -ffp-contract=off.
 *
 * Outputs of grad kernels are fully overwritten, never accumulated into.
 * Unless stated otherwise, output buffers must not alias inputs.
 */
#ifndef TCC_KERNELS_H
#define TCC_KERNELS_H

#include <stddef.h>
#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Shape of a 2-D convolution. oh = (h + 2*pad_h - dil_h*(kh-1) - 1)/stride_h + 1
 * (likewise ow); c and o must be divisible by groups. */
typedef struct {
  int32_t n, c, h, w;        /* input  N, C, H, W */
  int32_t o, kh, kw;         /* weight O, (C/groups), KH, KW */
  int32_t oh, ow;            /* output H, W */
  int32_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
} tcc_conv2d_params;

/* exp(x) and log(x) from float arithmetic alone: the same bits on every
 * IEEE-754 build (libm's differ between C libraries); within about 2 ulp. */
float tcc_expf(float x);
float tcc_logf(float x);

/* y[n,m] = (sum_k x[n,k] * w[m,k]) + b[m]; b may be NULL (no bias). */
void tcc_linear_f32(const float *x, const float *w, const float *b, float *y,
                    int32_t n, int32_t k, int32_t m);

/* dx[n,k] = sum_m dy[n,m] * w[m,k]. */
void tcc_linear_grad_input_f32(const float *dy, const float *w, float *dx,
                               int32_t n, int32_t k, int32_t m);

/* dw[m,k] = sum_n dy[n,m] * x[n,k]. */
void tcc_linear_grad_weight_f32(const float *dy, const float *x, float *dw,
                                int32_t n, int32_t k, int32_t m);

/* db[c] = sum_n sum_i dy[n,c,i], i < inner (H*W for conv, 1 for linear). */
void tcc_bias_grad_f32(const float *dy, float *db, int32_t n, int32_t c,
                       int32_t inner);

/* y[n,o,i,j] = (sum_{ci,a,b} x[n, g*C/G + ci, i*sh - ph + a*dh, j*sw - pw + b*dw]
 *              * w[o,ci,a,b]) + b[o], g = o / (O/G); out-of-range x reads as 0
 * (zero padding); b may be NULL. Covers grouped and depthwise convolution. */
void tcc_conv2d_f32(const float *x, const float *w, const float *b, float *y,
                    const tcc_conv2d_params *p);

/* dx[n,c,u,v] = sum_{o in group(c), a, b} dy[n,o,i,j] * w[o, c - g*C/G, a, b]
 * over the (i,j) with u = i*sh - ph + a*dh and v = j*sw - pw + b*dw. */
void tcc_conv2d_grad_input_f32(const float *dy, const float *w, float *dx,
                               const tcc_conv2d_params *p);

/* dw[o,ci,a,b] = sum_{n,i,j} dy[n,o,i,j]
 *                * x[n, g*C/G + ci, i*sh - ph + a*dh, j*sw - pw + b*dw]
 * (padding terms are 0 and skipped). Pointwise convs run as 4 x 4 register
 * tiles of (o, ci), each sum in the same order. */
void tcc_conv2d_grad_weight_f32(const float *dy, const float *x, float *dw,
                                const tcc_conv2d_params *p);

/* Where a weight gradient goes block by block instead of into a dw tensor:
 * put(sink, g, gs, index, stride, rows, count) receives, for r < rows, the count
 * values g[r * gs ..] of dw[index + r * stride ..], each row within one output
 * channel (the KH*KW taps of one (o, ci), or a pointwise tile's row). */
typedef struct tcc_dw_sink {
  void (*put)(const struct tcc_dw_sink *sink, const float *g, int32_t gs, int32_t index,
              int32_t stride, int32_t rows, int32_t count);
} tcc_dw_sink;

/* tcc_conv2d_grad_weight_f32 into dw (sink NULL) or, the same sums, into `sink`
 * (dw unused; at most TCC_MAX_TAPS taps). */
void tcc_conv2d_grad_weight_to(const float *dy, const float *x, float *dw,
                               const tcc_conv2d_params *p, const tcc_dw_sink *sink);

/* tcc_conv2d_grad_weight_to into `sink` (not NULL) with an int8 x read through
 * `table` (table[q + 128]: q as quant.dcast dequantizes it): the x channels a block
 * of sums reads (a tile of TCC_GRAD_WEIGHT_TILE for a pointwise conv, else one) are
 * dequantized into scratch first (TCC_GRAD_WEIGHT_S8X_SCRATCH floats); the sums are
 * those of the float x, in the same order. */
void tcc_conv2d_grad_weight_s8x_to(const float *dy, const int8_t *x, const float *table,
                                   float *scratch, const tcc_conv2d_params *p,
                                   const tcc_dw_sink *sink);
#define TCC_GRAD_WEIGHT_TILE 4
#define TCC_GRAD_WEIGHT_S8X_SCRATCH(n, hw, pointwise) \
  ((pointwise) ? TCC_GRAD_WEIGHT_TILE * (n) * (hw) : (n) * (hw))

/* y[i] = a[i] + b[i]; y may alias a or b. */
void tcc_add_f32(const float *a, const float *b, float *y, int32_t size);

/* y[i] = max(x[i], 0); y may alias x. */
void tcc_relu_f32(const float *x, float *y, int32_t size);

/* dx[i] = y[i] > 0 ? dy[i] : 0 (y is the relu output); dx may alias dy. */
void tcc_relu_grad_f32(const float *dy, const float *y, float *dx, int32_t size);

/* dst[i] = src[i] with memmove semantics (buffers may overlap). */
void tcc_copy_f32(const float *src, float *dst, int32_t size);

/* *loss = (1/n) sum_r (logsumexp(x[r,:]) - x[r,labels[r]]), computed stably
 * as log(sum_j exp(x[r,j] - mx)) - (x[r,labels[r]] - mx), mx = max_j x[r,j];
 * rows summed in increasing r; 0 <= labels[r] < c. */
void tcc_cross_entropy_f32(const float *logits, const int32_t *labels,
                           float *loss, int32_t n, int32_t c);

/* dlogits[r,j] = (softmax(x[r,:])[j] - (j == labels[r])) / n. */
void tcc_cross_entropy_grad_f32(const float *logits, const int32_t *labels,
                                float *dlogits, int32_t n, int32_t c);

/* In place: p[i] -= lr * (g[i] + weight_decay * p[i]). */
void tcc_sgd_f32(float *param, const float *grad, float lr,
                 float weight_decay, int32_t size);

/* ---------------------------------------------------------------------------
 * Weights of linear and conv kernels (`_w` variants): float, or int8 that is
 * dequantized as it is read, (q - zero_point) * scale[o] rounded once to float
 * (scale = scale_hi[o] + scale_lo[o], two floats holding a float64 scale;
 * see tcc_dequantize_one). A partial-channel parameter is split in two at
 * channel `split` of `split_axis` (0: output, 1: input channels): the first
 * `split` channels at f32/s8, the others at rest_f32/rest_s8, each part
 * contiguous in OIHW order. Unsplit: split_axis 0, split = O.
 * ------------------------------------------------------------------------- */
typedef struct {
  const float *f32, *rest_f32;    /* float weights, or NULL */
  const int8_t *s8, *rest_s8;     /* int8 weights, or NULL */
  const float *scale_hi, *scale_lo;
  int32_t scale_per_channel;      /* 1: scale[o]; 0: scale[0] for all */
  int32_t zero_point;
  int32_t split_axis, split;
} tcc_weight;

/* Largest kh*kw of a conv kernel reading a tcc_weight (taps are staged). */
#define TCC_MAX_TAPS 121

/* (q - zp) * (hi + lo) rounded once to float: exact products of the small
 * integer d with hi, plus d * lo, in one fused rounding. */
static inline float tcc_dequantize_one(int32_t q, int32_t zp, float hi, float lo) {
  const float d = (float)(q - zp);
  return fmaf(d, hi, d * lo);
}

/* The `taps` weights of (output o, input channel ci) of a [out, in, taps]
 * tensor: a pointer into float weights, or into `buf` (int8, dequantized). */
static inline const float *tcc_weight_taps(const tcc_weight *w, int32_t o, int32_t ci,
                                           int32_t in, int32_t taps, float *buf) {
  int32_t index;
  int32_t first = 1;
  if (w->split_axis == 0) {
    first = o < w->split;
    index = ((first ? o : o - w->split) * in + ci) * taps;
  } else {
    first = ci < w->split;
    index = first ? (o * w->split + ci) * taps
                  : (o * (in - w->split) + ci - w->split) * taps;
  }
  if (w->s8 == NULL) return (first ? w->f32 : w->rest_f32) + index;
  const int8_t *q = (first ? w->s8 : w->rest_s8) + index;
  const int32_t c = w->scale_per_channel ? o : 0;
  for (int32_t t = 0; t < taps; ++t)
    buf[t] = tcc_dequantize_one(q[t], w->zero_point, w->scale_hi[c], w->scale_lo[c]);
  return buf;
}

/* y[n,m] = (sum_k x[n,k] * w[m,k]) + b[m], as tcc_linear_f32. */
void tcc_linear_w_f32(const float *x, const tcc_weight *w, const float *b, float *y,
                      int32_t n, int32_t k, int32_t m);

/* dx[n,k] = sum_m dy[n,m] * w[m,k], as tcc_linear_grad_input_f32. */
void tcc_linear_grad_input_w_f32(const float *dy, const tcc_weight *w, float *dx,
                                 int32_t n, int32_t k, int32_t m);

/* As tcc_conv2d_f32 (same summation order). */
void tcc_conv2d_w_f32(const float *x, const tcc_weight *w, const float *b, float *y,
                      const tcc_conv2d_params *p);

/* As tcc_conv2d_grad_input_f32 (same summation order). Pointwise convs (1x1,
 * stride 1, no padding, groups 1) run as 4 x 4 register tiles over staged
 * weight columns; stride-1 3x3/5x5/7x7 depthwise convs over a zero-padded copy
 * of each dy channel (the padding adds exact zeros, so a finite weight gives
 * the same bits), other depthwise convs gather their valid taps per output. */
void tcc_conv2d_grad_input_w_f32(const float *dy, const tcc_weight *w, float *dx,
                                 const tcc_conv2d_params *p);

/* Channel c of the input gradient of a depthwise conv `p` (groups == C == O):
 * dy and dx hold that channel's planes of the N images back to back; the sums of
 * tcc_conv2d_grad_input_w_f32 for that channel. */
void tcc_depthwise_grad_input_channel_f32(const float *dy, const tcc_weight *w, int32_t c,
                                          float *dx, const tcc_conv2d_params *p);

/* ---------------------------------------------------------------------------
 * Element-wise ops: y may alias any operand of its size.
 * ------------------------------------------------------------------------- */

/* y[i] = a[i] * b[i]. */
void tcc_mul_f32(const float *a, const float *b, float *y, int32_t size);

/* y[i] = min(max(x[i], lo), hi). */
void tcc_clamp_f32(const float *x, float *y, float lo, float hi, int32_t size);

/* dx[i] = lo < x[i] < hi ? dy[i] : 0 (x: clamp's input). */
void tcc_clamp_grad_f32(const float *dy, const float *x, float *dx, float lo, float hi,
                        int32_t size);
/* 1-bit masks of train.clamp_mask (bit i % 8 of byte i / 8) and train.mask_grad. */
void tcc_clamp_mask_f32(const float *x, int8_t *mask, float lo, float hi, int32_t size);
void tcc_clamp_mask_s8(const int8_t *q, int8_t *mask, int32_t qa, int32_t qb, int32_t size);
void tcc_mask_grad_f32(const float *dy, const int8_t *mask, float *dx, int32_t size);

/* y = x * min(max(x + 3, 0), 6) / 6. */
void tcc_hardswish_f32(const float *x, float *y, int32_t size);

/* dx = 0 for x <= -3, dy * (x / 3 + 1/2) for -3 < x < 3, dy for x >= 3. */
void tcc_hardswish_grad_f32(const float *dy, const float *x, float *dx, int32_t size);

/* y = 1 / (1 + exp(-x)), as exp(-|x|) ratios (no overflow). */
void tcc_sigmoid_f32(const float *x, float *y, int32_t size);

/* dx = dy * (1 - y) * y (y: sigmoid's output). */
void tcc_sigmoid_grad_f32(const float *dy, const float *y, float *dx, int32_t size);

/* y = x/2 (1 + erf(x / sqrt 2)), or with tanh_form
 * x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
void tcc_gelu_f32(const float *x, float *y, int32_t size, int32_t tanh_form);

/* The derivative of tcc_gelu_f32 times dy. */
void tcc_gelu_grad_f32(const float *dy, const float *x, float *dx, int32_t size,
                       int32_t tanh_form);

/* ---------------------------------------------------------------------------
 * Reductions, normalization, losses, pooling (outputs never alias inputs).
 * ------------------------------------------------------------------------- */

/* Batched matrix product y[b] = a[b] @ c[b], a[b] m x k, c[b] k x n; each
 * sum over increasing k from 0.0f. */
void tcc_matmul_f32(const float *a, const float *c, float *y, int32_t batch, int32_t m,
                    int32_t k, int32_t n);

/* Softmax along an axis of `axis` elements, `inner` apart, for `outer` blocks:
 * e = exp(x - max), y = e / sum(e). */
void tcc_softmax_f32(const float *x, float *y, int32_t outer, int32_t axis, int32_t inner);

/* dx = y * (dy - sum_axis(dy * y)) (y: softmax's output). */
void tcc_softmax_grad_f32(const float *dy, const float *y, float *dx, int32_t outer,
                          int32_t axis, int32_t inner);

/* Layer norm of `rows` rows of m elements: c = x - mean, var = mean(c*c),
 * y = c / sqrt(var + eps) * w + b (w, b: m elements). */
void tcc_layer_norm_f32(const float *x, const float *w, const float *b, float *y,
                        int32_t rows, int32_t m, float eps);

/* Its input gradient: with r = 1/sqrt(var + eps), xhat = c * r, g = dy * w:
 * dx = r * (g - mean(g) - xhat * mean(g * xhat)). */
void tcc_layer_norm_grad_input_f32(const float *dy, const float *x, const float *w,
                                   float *dx, int32_t rows, int32_t m, float eps);

/* Inference batch norm over axis 1 of [n, c, inner]:
 * y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]. */
void tcc_batch_norm_f32(const float *x, const float *gamma, const float *beta,
                        const float *mean, const float *var, float *y, int32_t n,
                        int32_t c, int32_t inner, float eps);

/* *loss = mean((p - t)^2); dp = (p - t) * (2 / size). */
void tcc_mse_f32(const float *p, const float *t, float *loss, int32_t size);
void tcc_mse_grad_f32(const float *p, const float *t, float *dp, int32_t size);

/* Shape of a 2-D pooling window over NCHW (floor mode; padding < kernel). */
typedef struct {
  int32_t n, c, h, w, oh, ow, kh, kw, stride_h, stride_w, pad_h, pad_w;
  int32_t count_include_pad;
} tcc_pool2d_params;

/* Mean over each window (zero padding); divisor kh*kw with count_include_pad,
 * else the window's input elements. */
void tcc_avg_pool2d_f32(const float *x, float *y, const tcc_pool2d_params *p);

/* dx: each dy / its window's divisor added to every input of the window. */
void tcc_avg_pool2d_grad_f32(const float *dy, float *dx, const tcc_pool2d_params *p);

/* Max over each window of x padded with -inf. */
void tcc_max_pool2d_f32(const float *x, float *y, const tcc_pool2d_params *p);

/* dx: each dy added at its window's first maximum (row-major). */
void tcc_max_pool2d_grad_f32(const float *dy, const float *x, float *dx,
                             const tcc_pool2d_params *p);

/* y[r] = mean of x[r, 0..inner) for `rows` rows. */
void tcc_global_avg_pool_f32(const float *x, float *y, int32_t rows, int32_t inner);

/* ---------------------------------------------------------------------------
 * Layout ops on any element size (`bytes`: 1 for int8, 4 for f32/i32), ranks
 * up to TCC_MAX_RANK, shapes row-major. Outputs never alias inputs.
 * ------------------------------------------------------------------------- */
#define TCC_MAX_RANK 8

/* y = x[off0:off0+size0, ...] of x of shape `shape`. */
void tcc_slice(const void *x, void *y, int32_t rank, const int32_t *shape,
               const int32_t *offsets, const int32_t *sizes, int32_t bytes);

/* y = zeros(shape) with x (of shape `sizes`) placed at `offsets`, elements of
 * `bytes` bytes. */
void tcc_pad_to(const void *x, void *y, int32_t rank, const int32_t *shape,
                const int32_t *offsets, const int32_t *sizes, int32_t bytes);

/* y[outer, sum_i a_i, inner] = the operands [outer, a_i, inner] one after another
 * along the middle axis; parts[i] holds a_i * inner elements per outer index. */
void tcc_concat(const void *const *parts, const int32_t *axis_sizes, int32_t count,
                void *y, int32_t outer, int32_t inner, int32_t bytes);

/* y = x with its dims permuted: y.shape[i] = shape[perm[i]]. */
void tcc_transpose(const void *x, void *y, int32_t rank, const int32_t *shape,
                   const int32_t *perm, int32_t bytes);

/* y (of shape `shape`) = x (of shape `from`, same rank, dims 1 or equal)
 * broadcast. */
void tcc_broadcast(const void *x, void *y, int32_t rank, const int32_t *from,
                   const int32_t *shape, int32_t bytes);

/* y (of shape `to`, same rank, dims 1 or equal) = x (of shape `shape`) summed
 * over the dims where `to` has 1, in row-major order of x. */
void tcc_sum_to_f32(const float *x, float *y, int32_t rank, const int32_t *shape,
                    const int32_t *to);

/* ---------------------------------------------------------------------------
 * Optimizers (in place).
 * ------------------------------------------------------------------------- */

/* PyTorch's SGD with momentum (dampening 0): g' = g + weight_decay * p,
 * m = momentum * m + g', p -= lr * m. */
void tcc_sgd_momentum_f32(float *param, const float *grad, float *buffer, float lr,
                          float momentum, float weight_decay, int32_t size);

#ifdef __cplusplus
}
#endif

#endif /* TCC_KERNELS_H */

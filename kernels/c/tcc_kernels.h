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
 * (padding terms are 0 and skipped). */
void tcc_conv2d_grad_weight_f32(const float *dy, const float *x, float *dw,
                                const tcc_conv2d_params *p);

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

#ifdef __cplusplus
}
#endif

#endif /* TCC_KERNELS_H */

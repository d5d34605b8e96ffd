/*
 * tcc_qtrain.h - kernels of int8 training steps: dequantization in float
 * arithmetic only, the integer-domain SGD update of int8 weights and int32
 * biases with quantization-aware scaling (train.qsgd, the semantics of
 * runtime/quantized_training.py), and the int8 forward of a layer whose
 * weight is a partial-channel parameter (split in two, see tcc_weight).
 *
 * No double arithmetic: a float64 scale s is passed as two floats hi + lo
 * (hi = (float)s, lo = (float)(s - hi)); per-channel update coefficients are
 * folded at compile time into float constants.
 */
#ifndef TCC_QTRAIN_H
#define TCC_QTRAIN_H

#include <stdint.h>

#include "tcc_int8.h"
#include "tcc_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* quant.dcast: y[i] = (x[i] - zp) * scale[c] rounded once to float
 * (tcc_dequantize_one), c = (i / inner) % channels (channels 1: per tensor). */
void tcc_dequantize_f32(const int8_t *x, float *y, int32_t size, int32_t channels,
                        int32_t inner, const float *scale_hi, const float *scale_lo,
                        int32_t zp);

/* An integer-domain SGD update (train.qsgd) of `size` values, channel
 * c = (i / inner) % channels of each:
 *   step = coef[c] * g[i] + decay * (p[i] - zp)
 *   p[i] = saturate(round_half_even(p[i] - step), qmin, qmax)
 * coef[c] = lr / s_c with QAS, lr * s_c without; decay = lr * weight_decay.
 * A channel with dead[c] != 0 (dead may be NULL) and a NaN update keep the
 * stored value. */
typedef struct {
  const float *coef;
  const uint8_t *dead;
  float decay;
  int32_t channels, inner, zp, qmin, qmax;
} tcc_qsgd_params;

/* int8 weights, updated in place. */
void tcc_qsgd_s8(int8_t *param, const float *grad, int32_t size, const tcc_qsgd_params *q);

/* train.conv2d_qsgd: the int8 weight `param` (the gradient's shape, [p->o,
 * p->c / groups, KH, KW]) updated by tcc_qsgd_s8 with the weight gradient of
 * tcc_conv2d_grad_weight_f32, each block of it used as it is computed: the same
 * bits as the two kernels in sequence, without the f32 gradient. */
void tcc_conv2d_grad_weight_qsgd_s8(const float *dy, const float *x, int8_t *param,
                                    const tcc_conv2d_params *p, const tcc_qsgd_params *q);
/* The same with an int8 x read through `table` and `scratch`
 * (tcc_conv2d_grad_weight_s8x_to): no f32 copy of x. */
void tcc_conv2d_grad_weight_qsgd_s8x(const float *dy, const int8_t *x, const float *table,
                                     float *scratch, int8_t *param,
                                     const tcc_conv2d_params *p, const tcc_qsgd_params *q);

/* train.bottleneck_grad: the backward of an inverted bottleneck (dy [n, o, oh,
 * ow] -> 1x1 `project` [o, e] -> mask -> depthwise `dw` -> mask -> 1x1 `expand`
 * [e, c] -> dx [n, c, h, w]) TCC_BOTTLENECK_GRAD_CHANNELS expanded channels at a
 * time (fewer if e is smaller), in increasing channel order: their g2 (n x oh x ow
 * each) and g1 (n x h x w each) floats in `scratch`, then the bias gradients of
 * the depthwise and the expansion for those channels, their terms of dx (the sums
 * of tcc_conv2d_grad_input_w_f32), and with `param` their rows of the int8
 * expansion weight updated as tcc_conv2d_grad_weight_qsgd_s8x does (after
 * `expand` read them; x: the first x_channels channels of the input, through
 * `table`; then scratch also holds TCC_GRAD_WEIGHT_S8X_SCRATCH floats). Masks hold
 * one bit per element of [n, e, oh, ow] (depthwise_mask) and [n, e, h, w]
 * (expand_mask). */
#define TCC_BOTTLENECK_GRAD_CHANNELS 4
typedef struct {
  int32_t n, o, e, c;           /* batch; channels of dy, expanded, of dx */
  int32_t x_channels;           /* x channels the update reads; 0: no update */
  tcc_conv2d_params depthwise;  /* the whole depthwise conv (groups e) */
} tcc_bottleneck_grad_params;

void tcc_bottleneck_grad_f32(const float *dy, const tcc_weight *project, const tcc_weight *dw,
                             const int8_t *depthwise_mask, const tcc_weight *expand,
                             const int8_t *expand_mask, float *dx, float *depthwise_bias_grad,
                             float *expand_bias_grad, int8_t *param, const int8_t *x,
                             const float *table, const tcc_qsgd_params *q, float *scratch,
                             const tcc_bottleneck_grad_params *p);

/* int32 biases, updated in place; the rounding of p - step is exact for any
 * int32 p (the float step is split into integer and fraction). */
void tcc_qsgd_s32(int32_t *param, const float *grad, int32_t size,
                  const tcc_qsgd_params *q);

/* train.qconv2d (and qlinear as a 1x1 conv on 1x1 images) of a weight split
 * in two at channel `split` of `split_axis` (0: output, 1: input channels):
 * the same integers as tcc_q_conv2d_s8 on the whole weight. Pointwise convs
 * (1x1, stride 1, no padding, groups 1) of at most TCC_Q_SPLIT_MAX_C input
 * channels take a SMLAD path over widened columns, others a direct loop. */
#define TCC_Q_SPLIT_MAX_C 1024
void tcc_q_conv2d_split_s8(const int8_t *x, const int8_t *w, const int8_t *w_rest,
                           int32_t split_axis, int32_t split, const int32_t *bias,
                           int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq);

#ifdef __cplusplus
}
#endif

#endif /* TCC_QTRAIN_H */

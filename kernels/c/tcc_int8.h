/*
 * tcc_int8.h - int8 forward kernels of tcc-generated code, bit-exact with
 * TFLite Micro's reference kernels (rounding multiplier_shift) or with the
 * Tiny Training Engine's float64 requantization (rounding float_scale); the
 * semantics are runtime/quantized_ops.py.
 *
 * Layouts follow PyTorch: activations NCHW, conv weights OIHW (depthwise
 * C*M x 1 x KH x KW), linear weights [out, in]; int8 storage values, int32
 * biases in the accumulator's scale. Padding is zero in the shifted domain:
 * out-of-image taps are skipped, as in TFLite.
 *
 * Each kernel exists twice: `NAME_inline`, always inlined, so that a call with
 * constant shapes (what tcc's renderer emits) is specialised by the compiler
 * (loops over 3x3 taps unrolled, index arithmetic folded); and `NAME`, an
 * ordinary function in tcc_int8.c for generic shapes (smaller code).
 *
 * Accumulation: the products (x - x_zp) * w are summed in int32 (the renderer
 * rejects layers whose sums could leave the int32 range); the bias is added
 * with two's-complement wrap-around, as TFLite's int32 accumulator does.
 */
#ifndef TCC_INT8_H
#define TCC_INT8_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TCC_INT8_INLINE static inline __attribute__((always_inline))
#else
#define TCC_INT8_INLINE static inline
#endif

/* ---------------------------------------------------------------------------
 * DSP seam. The inner products go through these macros. A target with the
 * Armv7E-M DSP extension maps them to its intrinsics (define TCC_USE_DSP with
 * <arm_acle.h> available); every other build gets the plain-C definitions,
 * which compute the same integers.
 *   TCC_SXTB16(v): bytes 0 and 2 of v sign-extended into two 16-bit lanes.
 *   TCC_SMLAD(a, b, acc): acc + a.lo16 * b.lo16 + a.hi16 * b.hi16 (signed).
 *   TCC_MAC_S8(acc, x, w): acc += x * w for one pair of widened int8 values.
 * ------------------------------------------------------------------------- */
#if defined(TCC_USE_DSP) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define TCC_SXTB16(v) ((uint32_t)__sxtb16((int32_t)(v)))
#define TCC_SMLAD(a, b, acc) __smlad((int32_t)(a), (int32_t)(b), (acc))
#endif

#ifndef TCC_SXTB16
#define TCC_SXTB16(v) tcc_sxtb16_c((uint32_t)(v))
#endif
#ifndef TCC_SMLAD
#define TCC_SMLAD(a, b, acc) tcc_smlad_c((uint32_t)(a), (uint32_t)(b), (acc))
#endif
#ifndef TCC_MAC_S8
#define TCC_MAC_S8(acc, x, w) ((acc) += (int32_t)(x) * (int32_t)(w))
#endif

TCC_INT8_INLINE uint32_t tcc_sxtb16_c(uint32_t v) {
  const uint32_t lo = (uint32_t)(uint16_t)(int16_t)(int8_t)(v & 0xFFu);
  const uint32_t hi = (uint32_t)(uint16_t)(int16_t)(int8_t)((v >> 16) & 0xFFu);
  return lo | hi << 16;
}

TCC_INT8_INLINE int32_t tcc_smlad_c(uint32_t a, uint32_t b, int32_t acc) {
  const int32_t lo = (int32_t)(int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu);
  const int32_t hi = (int32_t)(int16_t)(a >> 16) * (int16_t)(b >> 16);
  return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
}

/* ---------------------------------------------------------------------------
 * Fixed-point arithmetic (TFLite's MultiplyByQuantizedMultiplier, gemmlowp).
 * Right shifts of negative values are arithmetic (GCC and Clang guarantee it).
 * ------------------------------------------------------------------------- */

/* round(a * b / 2^31), ties toward +inf; INT32_MIN * INT32_MIN saturates. */
TCC_INT8_INLINE int32_t tcc_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
  /* C's division truncates toward zero, as gemmlowp's does. */
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero; 0 <= exponent <= 31. */
TCC_INT8_INLINE int32_t tcc_rdbpot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0);
  return (x >> exponent) + (remainder > threshold);
}

/* x * multiplier * 2^(shift - 31) with TFLite's double rounding; the left
 * shift wraps like an int32 multiplication by 2^shift. */
TCC_INT8_INLINE int32_t tcc_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  return tcc_rdbpot(tcc_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* Round half to even of v, bounded to +-2^16 (beyond any int8 result). */
TCC_INT8_INLINE int32_t tcc_rne_bounded(double v) {
  const double r = rint(v); /* the default rounding mode: ties to even */
  if (!(r > -65536.0)) return -65536; /* NaN cannot occur: finite inputs */
  if (r > 65536.0) return 65536;
  return (int32_t)r;
}

TCC_INT8_INLINE int8_t tcc_clamp_s8(int32_t v, int32_t qmin, int32_t qmax) {
  return (int8_t)(v < qmin ? qmin : v > qmax ? qmax : v);
}

/* total / count rounded to an integer (count > 0): ties away from zero
 * (TFLite's average pool) or, if half_even, ties to even (float_scale). */
TCC_INT8_INLINE int32_t tcc_divide_round(int32_t total, int32_t count,
                                         int32_t half_even) {
  if (!half_even) {
    const int32_t half = count / 2;
    return total > 0 ? (total + half) / count : -((half - total) / count);
  }
  int32_t q = total / count, r = total % count;
  if (r < 0) { q -= 1; r += count; } /* floor division: 0 <= r < count */
  return q + (2 * r > count || (2 * r == count && (q & 1)));
}

/* ---------------------------------------------------------------------------
 * Parameters.
 * ------------------------------------------------------------------------- */

/* Requantization of an int32 accumulator to the int8 output of channel o:
 * multiplier_shift: tcc_mbqm(acc, multiplier[o], shift[o]) (eff == NULL);
 * float_scale: round half to even of (double)acc * eff[o]. Then + output_zp,
 * clamped to [qmin, qmax]. input_zp is subtracted from every input value. */
typedef struct {
  const int32_t *multiplier;
  const int32_t *shift;
  const double *eff;
  int32_t input_zp, output_zp, qmin, qmax;
} tcc_q_requant;

/* Shape of a quantized 2-D convolution (as tcc_conv2d_params). */
typedef struct {
  int32_t n, c, h, w;        /* input N, C, H, W */
  int32_t o, kh, kw;         /* weight O, (C/groups), KH, KW */
  int32_t oh, ow;            /* output H, W */
  int32_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
} tcc_q_conv_shape;

/* Average pool over NCHW: floor-mode windows; padded taps hold zp and count
 * in the divisor only if count_include_pad; rounding as tcc_divide_round. */
typedef struct {
  int32_t n, c, h, w, oh, ow, kh, kw, stride_h, stride_w, pad_h, pad_w;
  int32_t count_include_pad, zp, qmin, qmax, half_even;
} tcc_q_pool_shape;

/* Element-wise add. multiplier_shift (float_scale == 0): TFLite's int8 ADD,
 * inputs shifted left by 20 bits and scaled by (multiplier, shift <= 0) each,
 * the sum by the output pair. float_scale: rne(((a - a_zp) * a_scale +
 * (b - b_zp) * b_scale) / y_scale) in double. */
typedef struct {
  int32_t a_zp, b_zp, y_zp, qmin, qmax;
  int32_t a_multiplier, a_shift, b_multiplier, b_shift, y_multiplier, y_shift;
  int32_t float_scale;
  double a_scale, b_scale, y_scale;
} tcc_q_add_params;

#define TCC_ADD_LEFT_SHIFT 20

/* ---------------------------------------------------------------------------
 * Kernels (always inlined bodies; tcc_int8.c has out-of-line versions).
 * ------------------------------------------------------------------------- */

/* The int8 output of channel o from its accumulator (bias may be NULL). */
TCC_INT8_INLINE int8_t tcc_q_output(int32_t acc, const int32_t *bias, int32_t o,
                                    tcc_q_requant rq) {
  if (bias != NULL) acc = (int32_t)((uint32_t)acc + (uint32_t)bias[o]);
  const int32_t v = rq.eff != NULL ? tcc_rne_bounded((double)acc * rq.eff[o])
                                   : tcc_mbqm(acc, rq.multiplier[o], rq.shift[o]);
  return tcc_clamp_s8(v + rq.output_zp, rq.qmin, rq.qmax);
}

/* y[n,o,i,j] = requant(b[o] + sum_{ci,a,b} (x[n, g*C/G + ci, i*sh - ph + a*dh,
 * j*sw - pw + b*dw] - x_zp) * w[o,ci,a,b]); any groups. */
TCC_INT8_INLINE void tcc_q_conv2d_s8_inline(const int8_t *x, const int8_t *w,
                                            const int32_t *bias, int8_t *y,
                                            tcc_q_conv_shape s, tcc_q_requant rq) {
  const int32_t cg = s.c / s.groups, og = s.o / s.groups;
  for (int32_t n = 0; n < s.n; ++n) {
    for (int32_t oc = 0; oc < s.o; ++oc) {
      const int32_t g = oc / og;
      int8_t *yc = y + (n * s.o + oc) * s.oh * s.ow;
      for (int32_t i = 0; i < s.oh; ++i) {
        for (int32_t j = 0; j < s.ow; ++j) {
          int32_t acc = 0;
          for (int32_t ci = 0; ci < cg; ++ci) {
            const int8_t *xc = x + (n * s.c + g * cg + ci) * s.h * s.w;
            const int8_t *wc = w + (oc * cg + ci) * s.kh * s.kw;
            for (int32_t ky = 0; ky < s.kh; ++ky) {
              const int32_t u = i * s.stride_h - s.pad_h + ky * s.dil_h;
              if (u < 0 || u >= s.h) continue;
              for (int32_t kx = 0; kx < s.kw; ++kx) {
                const int32_t v = j * s.stride_w - s.pad_w + kx * s.dil_w;
                if (v < 0 || v >= s.w) continue;
                TCC_MAC_S8(acc, xc[u * s.w + v] - rq.input_zp, wc[ky * s.kw + kx]);
              }
            }
          }
          yc[i * s.ow + j] = tcc_q_output(acc, bias, oc, rq);
        }
      }
    }
  }
}

/* Depthwise (groups == C, weight C*M x 1 x KH x KW): output channel oc reads
 * input channel oc / M. */
TCC_INT8_INLINE void tcc_q_depthwise_conv2d_s8_inline(const int8_t *x, const int8_t *w,
                                                      const int32_t *bias, int8_t *y,
                                                      tcc_q_conv_shape s,
                                                      tcc_q_requant rq) {
  const int32_t m = s.o / s.c;
  for (int32_t n = 0; n < s.n; ++n) {
    for (int32_t oc = 0; oc < s.o; ++oc) {
      const int8_t *xc = x + (n * s.c + oc / m) * s.h * s.w;
      const int8_t *wc = w + oc * s.kh * s.kw;
      int8_t *yc = y + (n * s.o + oc) * s.oh * s.ow;
      for (int32_t i = 0; i < s.oh; ++i) {
        for (int32_t j = 0; j < s.ow; ++j) {
          int32_t acc = 0;
          for (int32_t ky = 0; ky < s.kh; ++ky) {
            const int32_t u = i * s.stride_h - s.pad_h + ky * s.dil_h;
            if (u < 0 || u >= s.h) continue;
            for (int32_t kx = 0; kx < s.kw; ++kx) {
              const int32_t v = j * s.stride_w - s.pad_w + kx * s.dil_w;
              if (v < 0 || v >= s.w) continue;
              TCC_MAC_S8(acc, xc[u * s.w + v] - rq.input_zp, wc[ky * s.kw + kx]);
            }
          }
          yc[i * s.ow + j] = tcc_q_output(acc, bias, oc, rq);
        }
      }
    }
  }
}

/* Pointwise (1x1 kernel, stride 1, no padding, groups 1): per pixel p,
 * y[n,o,p] = requant(b[o] + sum_c (x[n,c,p] - x_zp) * w[o,c]). */
TCC_INT8_INLINE void tcc_q_pointwise_conv2d_s8_inline(const int8_t *x, const int8_t *w,
                                                      const int32_t *bias, int8_t *y,
                                                      tcc_q_conv_shape s,
                                                      tcc_q_requant rq) {
  const int32_t hw = s.h * s.w;
  for (int32_t n = 0; n < s.n; ++n) {
    const int8_t *xn = x + n * s.c * hw;
    for (int32_t oc = 0; oc < s.o; ++oc) {
      const int8_t *wo = w + oc * s.c;
      int8_t *yc = y + (n * s.o + oc) * hw;
      for (int32_t p = 0; p < hw; ++p) {
        int32_t acc = 0;
        for (int32_t ci = 0; ci < s.c; ++ci)
          TCC_MAC_S8(acc, xn[ci * hw + p] - rq.input_zp, wo[ci]);
        yc[p] = tcc_q_output(acc, bias, oc, rq);
      }
    }
  }
}

/* y[r,j] = requant(b[j] + sum_i (x[r,i] - x_zp) * w[j,i]), x [n,k], w [m,k]. */
TCC_INT8_INLINE void tcc_q_linear_s8_inline(const int8_t *x, const int8_t *w,
                                            const int32_t *bias, int8_t *y, int32_t n,
                                            int32_t k, int32_t m, tcc_q_requant rq) {
  for (int32_t r = 0; r < n; ++r) {
    for (int32_t j = 0; j < m; ++j) {
      int32_t acc = 0;
      for (int32_t i = 0; i < k; ++i)
        TCC_MAC_S8(acc, x[r * k + i] - rq.input_zp, w[j * k + i]);
      y[r * m + j] = tcc_q_output(acc, bias, j, rq);
    }
  }
}

/* y[i] = a[i] + b[i] requantized (tcc_q_add_params); y may alias a or b. */
TCC_INT8_INLINE void tcc_q_add_s8_inline(const int8_t *a, const int8_t *b, int8_t *y,
                                         int32_t size, tcc_q_add_params p) {
  for (int32_t i = 0; i < size; ++i) {
    const int32_t va = a[i] - p.a_zp, vb = b[i] - p.b_zp;
    int32_t v;
    if (p.float_scale) {
      v = tcc_rne_bounded(((double)va * p.a_scale + (double)vb * p.b_scale) / p.y_scale);
    } else {
      /* |va| <= 255: va * 2^20 fits in int32. */
      const int32_t sa = tcc_rdbpot(
          tcc_srdhm(va * (1 << TCC_ADD_LEFT_SHIFT), p.a_multiplier), -p.a_shift);
      const int32_t sb = tcc_rdbpot(
          tcc_srdhm(vb * (1 << TCC_ADD_LEFT_SHIFT), p.b_multiplier), -p.b_shift);
      v = tcc_rdbpot(tcc_srdhm(sa + sb, p.y_multiplier), -p.y_shift);
    }
    y[i] = tcc_clamp_s8(v + p.y_zp, p.qmin, p.qmax);
  }
}

/* Average pool (input and output share one quantized type). */
TCC_INT8_INLINE void tcc_q_avg_pool2d_s8_inline(const int8_t *x, int8_t *y,
                                                tcc_q_pool_shape s) {
  for (int32_t nc = 0; nc < s.n * s.c; ++nc) {
    const int8_t *xc = x + nc * s.h * s.w;
    int8_t *yc = y + nc * s.oh * s.ow;
    for (int32_t i = 0; i < s.oh; ++i) {
      for (int32_t j = 0; j < s.ow; ++j) {
        int32_t total = 0, inside = 0;
        for (int32_t ky = 0; ky < s.kh; ++ky) {
          const int32_t u = i * s.stride_h - s.pad_h + ky;
          if (u < 0 || u >= s.h) continue;
          for (int32_t kx = 0; kx < s.kw; ++kx) {
            const int32_t v = j * s.stride_w - s.pad_w + kx;
            if (v < 0 || v >= s.w) continue;
            total += xc[u * s.w + v];
            ++inside;
          }
        }
        int32_t count = inside;
        if (s.count_include_pad) { /* padded taps hold zp */
          count = s.kh * s.kw;
          total += (count - inside) * s.zp;
        }
        yc[i * s.ow + j] =
            tcc_clamp_s8(tcc_divide_round(total, count, s.half_even), s.qmin, s.qmax);
      }
    }
  }
}

/* y[n,c] = mean over the hw values of x[n,c,:,:], rounded (tcc_divide_round). */
TCC_INT8_INLINE void tcc_q_global_avg_pool_s8_inline(const int8_t *x, int8_t *y,
                                                     int32_t nc, int32_t hw, int32_t qmin,
                                                     int32_t qmax, int32_t half_even) {
  for (int32_t r = 0; r < nc; ++r) {
    int32_t total = 0;
    for (int32_t p = 0; p < hw; ++p) total += x[r * hw + p];
    y[r] = tcc_clamp_s8(tcc_divide_round(total, hw, half_even), qmin, qmax);
  }
}

/* quant.dcast: y[i] = (float)((x[i] - zp) * scale), the product in double. */
TCC_INT8_INLINE void tcc_dequantize_s8_inline(const int8_t *x, float *y, int32_t size,
                                              double scale, int32_t zp) {
  for (int32_t i = 0; i < size; ++i) y[i] = (float)((double)(x[i] - zp) * scale);
}

/* quant.qcast: y[i] = clamp(rne(x[i] / scale) + zp, qmin, qmax) in double;
 * NaN becomes zp, infinities saturate. */
TCC_INT8_INLINE void tcc_quantize_s8_inline(const float *x, int8_t *y, int32_t size,
                                            double scale, int32_t zp, int32_t qmin,
                                            int32_t qmax) {
  for (int32_t i = 0; i < size; ++i) {
    const double v = (double)x[i] / scale;
    y[i] = tcc_clamp_s8((v != v ? 0 : tcc_rne_bounded(v)) + zp, qmin, qmax);
  }
}

/* Out-of-line versions (tcc_int8.c), same arguments. */
void tcc_q_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                     tcc_q_conv_shape s, tcc_q_requant rq);
void tcc_q_depthwise_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias,
                               int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq);
void tcc_q_pointwise_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias,
                               int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq);
void tcc_q_linear_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                     int32_t n, int32_t k, int32_t m, tcc_q_requant rq);
void tcc_q_add_s8(const int8_t *a, const int8_t *b, int8_t *y, int32_t size,
                  tcc_q_add_params p);
void tcc_q_avg_pool2d_s8(const int8_t *x, int8_t *y, tcc_q_pool_shape s);
void tcc_q_global_avg_pool_s8(const int8_t *x, int8_t *y, int32_t nc, int32_t hw,
                              int32_t qmin, int32_t qmax, int32_t half_even);
void tcc_dequantize_s8(const int8_t *x, float *y, int32_t size, double scale, int32_t zp);
void tcc_quantize_s8(const float *x, int8_t *y, int32_t size, double scale, int32_t zp,
                     int32_t qmin, int32_t qmax);

#ifdef __cplusplus
}
#endif

#endif /* TCC_INT8_H */

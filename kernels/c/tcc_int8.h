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
 * with two's-complement wrap-around, as TFLite's int32 accumulator does (the
 * fast kernels start from the bias: the same sum modulo 2^32).
 *
 * Fast paths (benchmarks/cortex_m_kernels.py measures them): inputs are
 * widened once to int16 with the zero point subtracted (convs: partial im2col
 * of two output pixels; pointwise: two NCHW pixels transposed into columns;
 * depthwise: a ring of zero-padded rows), then multiplied two taps per SMLAD
 * against int8 weights used as stored (SXTB16); requantization constants are
 * loaded once per output channel and, when every shift is a right shift of
 * two or more bits, take a short exact form (tcc_q_requantize). Some kernels
 * take an int16 `scratch` buffer whose size a TCC_Q_*_SCRATCH macro gives.
 */
#ifndef TCC_INT8_H
#define TCC_INT8_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
 *   TCC_SXTB16_ROR8(v): bytes 1 and 3 likewise (SXTB16 with ROR #8).
 *   TCC_SSUB16(a, b): lane-wise a - b modulo 2^16.
 *   TCC_SMLAD(a, b, acc): acc + a.lo16 * b.lo16 + a.hi16 * b.hi16 (signed),
 *     modulo 2^32.
 *   TCC_SMLABT(a, b, acc): acc + a.lo16 * b.hi16; TCC_SMLATB: acc + a.hi16 * b.lo16.
 *   TCC_MAC_S8(acc, x, w): acc += x * w for one pair of widened int8 values.
 * ------------------------------------------------------------------------- */
#if defined(TCC_USE_DSP) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define TCC_SXTB16(v) ((uint32_t)__sxtb16((int32_t)(v)))
#define TCC_SXTB16_ROR8(v) tcc_sxtb16_ror8_dsp((uint32_t)(v))
#define TCC_SSUB16(a, b) ((uint32_t)__ssub16((int32_t)(a), (int32_t)(b)))
#define TCC_SMLAD(a, b, acc) __smlad((int32_t)(a), (int32_t)(b), (acc))
#define TCC_SMLABT(a, b, acc) __smlabt((int32_t)(a), (int32_t)(b), (acc))
#define TCC_SMLATB(a, b, acc) __smlatb((int32_t)(a), (int32_t)(b), (acc))
#endif

#if defined(TCC_USE_DSP) && defined(__ARM_FEATURE_DSP)
/* SXTB16 with its ROR #8 operand (GCC 12 emits a separate ROR for __sxtb16 of a
 * rotated value). */
TCC_INT8_INLINE uint32_t tcc_sxtb16_ror8_dsp(uint32_t v) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}
#endif

#ifndef TCC_SXTB16
#define TCC_SXTB16(v) tcc_sxtb16_c((uint32_t)(v))
#endif
#ifndef TCC_SXTB16_ROR8
#define TCC_SXTB16_ROR8(v) tcc_sxtb16_c(tcc_ror8((uint32_t)(v)))
#endif
#ifndef TCC_SSUB16
#define TCC_SSUB16(a, b) tcc_ssub16_c((uint32_t)(a), (uint32_t)(b))
#endif
#ifndef TCC_SMLAD
#define TCC_SMLAD(a, b, acc) tcc_smlad_c((uint32_t)(a), (uint32_t)(b), (acc))
#endif
#ifndef TCC_SMLABT
#define TCC_SMLABT(a, b, acc) tcc_smlaxy_c((uint32_t)(a), (uint32_t)(b) >> 16, (acc))
#endif
#ifndef TCC_SMLATB
#define TCC_SMLATB(a, b, acc) tcc_smlaxy_c((uint32_t)(a) >> 16, (uint32_t)(b), (acc))
#endif
#ifndef TCC_MAC_S8
#define TCC_MAC_S8(acc, x, w) ((acc) += (int32_t)(x) * (int32_t)(w))
#endif

/* Fully unrolls the next loop when its trip count is a constant (GCC, Clang). */
#if defined(__GNUC__)
#define TCC_UNROLL _Pragma("GCC unroll 16")
#else
#define TCC_UNROLL
#endif

/* v saturated to int8 (one SSAT where the target has it; Armv7-M too). */
#if defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define TCC_SSAT8(v) __ssat((v), 8)
#else
#define TCC_SSAT8(v) ((v) < -128 ? -128 : (v) > 127 ? 127 : (v))
#endif

/* v rotated right by 8 bits. */
TCC_INT8_INLINE uint32_t tcc_ror8(uint32_t v) { return v >> 8 | v << 24; }

TCC_INT8_INLINE uint32_t tcc_sxtb16_c(uint32_t v) {
  const uint32_t lo = (uint32_t)(uint16_t)(int16_t)(int8_t)(v & 0xFFu);
  const uint32_t hi = (uint32_t)(uint16_t)(int16_t)(int8_t)((v >> 16) & 0xFFu);
  return lo | hi << 16;
}

TCC_INT8_INLINE uint32_t tcc_ssub16_c(uint32_t a, uint32_t b) {
  return ((a - b) & 0xFFFFu) | (((a >> 16) - (b >> 16)) << 16);
}

TCC_INT8_INLINE int32_t tcc_smlad_c(uint32_t a, uint32_t b, int32_t acc) {
  const int32_t lo = (int32_t)(int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu);
  const int32_t hi = (int32_t)(int16_t)(a >> 16) * (int16_t)(b >> 16);
  return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);
}

/* acc + (int16)a * (int16)b modulo 2^32 (the low halves of a and b). */
TCC_INT8_INLINE int32_t tcc_smlaxy_c(uint32_t a, uint32_t b, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)(a & 0xFFFFu) *
                                              (int16_t)(b & 0xFFFFu)));
}

/* 4 bytes at p, any alignment (one LDR on the M7, which allows unaligned LDR/STR). */
TCC_INT8_INLINE uint32_t tcc_load32(const void *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

TCC_INT8_INLINE void tcc_store32(void *p, uint32_t v) { memcpy(p, &v, sizeof v); }

/* acc + x * w modulo 2^32 (the int32 accumulator wraps as TFLite's does). */
TCC_INT8_INLINE int32_t tcc_mac(int32_t acc, int32_t x, int32_t w) {
  return (int32_t)((uint32_t)acc + (uint32_t)(x * w));
}

/* ---------------------------------------------------------------------------
 * Fixed-point arithmetic (TFLite's MultiplyByQuantizedMultiplier, gemmlowp).
 * Right shifts of negative values are arithmetic (GCC and Clang guarantee it).
 * ------------------------------------------------------------------------- */

/* round(a * b / 2^31), ties toward +inf; INT32_MIN * INT32_MIN saturates.
 * gemmlowp adds a nudge of 2^30 (ab >= 0) or 1 - 2^30 (ab < 0) and truncates
 * toward zero; for ab < 0 truncating ab + 1 - 2^30 equals flooring ab + 2^30,
 * so both cases are floor((ab + 2^30) / 2^31): one multiply-accumulate and a
 * shift instead of a 64-bit division. */
TCC_INT8_INLINE int32_t tcc_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* tcc_srdhm for b >= 0 (a requantization multiplier): no saturating case. */
TCC_INT8_INLINE int32_t tcc_srdhm_pos(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero; 0 <= exponent <= 31. */
TCC_INT8_INLINE int32_t tcc_rdbpot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0);
  return (x >> exponent) + (remainder > threshold);
}

/* tcc_rdbpot for exponent = e1 + 1 >= 1, in four instructions: ties away from
 * zero is floor((x - [x < 0] + 2^(e-1)) / 2^e), which equals
 * ((z >> (e - 1)) + 1) >> 1 for z = x - [x < 0] (no overflow: x > INT32_MIN
 * whenever x comes from tcc_srdhm with a multiplier below 2^31). */
TCC_INT8_INLINE int32_t tcc_rdbpot1(int32_t x, int32_t e1) {
  return (((x + (x >> 31)) >> e1) + 1) >> 1;
}

/* tcc_rdbpot of a tcc_srdhm result (never INT32_MIN), 0 <= exponent <= 31. */
TCC_INT8_INLINE int32_t tcc_rdbpot_srdhm(int32_t x, int32_t exponent) {
  return exponent == 0 ? x : tcc_rdbpot1(x, exponent - 1);
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
  if (qmin == -128 && qmax == 127) return (int8_t)TCC_SSAT8(v);
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
 * clamped to [qmin, qmax]. input_zp is subtracted from every input value.
 * right_shifts: 1 if every multiplier is non-negative and every shift <= -2
 * (what the renderer checks at compile time): the short exact path
 * tcc_srdhm_pos + tcc_rdbpot1 applies, with the output zero point folded in. */
typedef struct {
  const int32_t *multiplier;
  const int32_t *shift;
  const double *eff;
  int32_t input_zp, output_zp, qmin, qmax;
  int32_t right_shifts;
} tcc_q_requant;

/* One output channel's requantization constants, loaded once per channel. */
typedef struct {
  int32_t multiplier, shift;
  double eff;
} tcc_q_channel;

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

/* The requantization constants of output channel o. */
TCC_INT8_INLINE tcc_q_channel tcc_q_channel_of(tcc_q_requant rq, int32_t o) {
  tcc_q_channel ch = {0, 0, 0.0};
  if (rq.eff != NULL) {
    ch.eff = rq.eff[o];
  } else {
    ch.multiplier = rq.multiplier[o];
    ch.shift = rq.shift[o];
  }
  return ch;
}

/* The int8 output of an accumulator (bias included) with channel constants ch. */
TCC_INT8_INLINE int8_t tcc_q_requantize(int32_t acc, tcc_q_channel ch, tcc_q_requant rq) {
  int32_t v;
  if (rq.eff != NULL) {
    v = tcc_rne_bounded((double)acc * ch.eff);
  } else if (rq.right_shifts) {
    /* tcc_rdbpot1 + output_zp as one shift: ((z >> e1) + 1) >> 1 + zp equals
     * ((z >> e1) + 1 + 2 zp) >> 1, and e1 >= 1 keeps it inside int32. */
    const int32_t h = tcc_srdhm_pos(acc, ch.multiplier);
    return tcc_clamp_s8((((h + (h >> 31)) >> (-ch.shift - 1)) + (1 + 2 * rq.output_zp)) >> 1,
                        rq.qmin, rq.qmax);
  } else {
    v = tcc_mbqm(acc, ch.multiplier, ch.shift);
  }
  return tcc_clamp_s8(v + rq.output_zp, rq.qmin, rq.qmax);
}

/* The int8 output of channel o from its accumulator (bias may be NULL). */
TCC_INT8_INLINE int8_t tcc_q_output(int32_t acc, const int32_t *bias, int32_t o,
                                    tcc_q_requant rq) {
  if (bias != NULL) acc = (int32_t)((uint32_t)acc + (uint32_t)bias[o]);
  return tcc_q_requantize(acc, tcc_q_channel_of(rq, o), rq);
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

/* ---------------------------------------------------------------------------
 * Column buffers and the 2x2 dot-product core shared by the im2col conv, the
 * pointwise conv and the fully connected layer. A column holds the k inputs of
 * one output pixel as int16 values with the input zero point subtracted, each
 * whole group of four taps in the order t0 t2 t1 t3: the two 16-bit lanes of
 * one word then match TCC_SXTB16 (taps 0 and 2) and TCC_SXTB16_ROR8 (taps 1
 * and 3) of the little-endian word holding four int8 weights, so a weight row
 * is used as stored and every four taps cost one load, two extensions and two
 * SMLADs per output channel. The k % 4 last taps keep their order.
 * ------------------------------------------------------------------------- */

/* Position of tap t (0 <= t < k) in a column. */
TCC_INT8_INLINE int32_t tcc_q_col_index(int32_t t, int32_t k) {
  return t < (k & ~3) ? (t & ~3) | (t & 1) << 1 | (t >> 1 & 1) : t;
}

/* (lo, hi) as two int16 lanes of a word. */
TCC_INT8_INLINE uint32_t tcc_pack16(int32_t lo, int32_t hi) {
  return (uint32_t)(uint16_t)lo | (uint32_t)hi << 16;
}

/* Requantized dot products of weight rows o = 0..m-1 (k int8 each, w + o * k,
 * any alignment) with columns c0 and c1, plus bias[o] (modulo 2^32), written
 * to y0[o * ys] and, unless y1 is NULL, y1[o * ys] (c1 may then be c0). Two
 * output channels by two columns per step: four accumulators in registers. */
TCC_INT8_INLINE void tcc_q_gemm_2col(const int16_t *c0, const int16_t *c1,
                                     const int8_t *w, const int32_t *bias, int8_t *y0,
                                     int8_t *y1, int32_t ys, int32_t k, int32_t m,
                                     tcc_q_requant rq) {
  const int32_t k4 = k & ~3;
  int32_t o = 0;
  for (; o + 2 <= m; o += 2) {
    const int8_t *wa = w + o * k, *wb = wa + k;
    int32_t a0 = bias != NULL ? bias[o] : 0, b0 = bias != NULL ? bias[o + 1] : 0;
    int32_t a1 = a0, b1 = b0;
    for (int32_t t = 0; t < k4; t += 4) {
      const uint32_t va = tcc_load32(wa + t), vb = tcc_load32(wb + t);
      const uint32_t wa02 = TCC_SXTB16(va), wa13 = TCC_SXTB16_ROR8(va);
      const uint32_t wb02 = TCC_SXTB16(vb), wb13 = TCC_SXTB16_ROR8(vb);
      const uint32_t x02 = tcc_load32(c0 + t), x13 = tcc_load32(c0 + t + 2);
      a0 = TCC_SMLAD(wa02, x02, a0);
      a0 = TCC_SMLAD(wa13, x13, a0);
      b0 = TCC_SMLAD(wb02, x02, b0);
      b0 = TCC_SMLAD(wb13, x13, b0);
      const uint32_t z02 = tcc_load32(c1 + t), z13 = tcc_load32(c1 + t + 2);
      a1 = TCC_SMLAD(wa02, z02, a1);
      a1 = TCC_SMLAD(wa13, z13, a1);
      b1 = TCC_SMLAD(wb02, z02, b1);
      b1 = TCC_SMLAD(wb13, z13, b1);
    }
    for (int32_t t = k4; t < k; ++t) {
      a0 = tcc_mac(a0, c0[t], wa[t]);
      b0 = tcc_mac(b0, c0[t], wb[t]);
      a1 = tcc_mac(a1, c1[t], wa[t]);
      b1 = tcc_mac(b1, c1[t], wb[t]);
    }
    const tcc_q_channel cha = tcc_q_channel_of(rq, o), chb = tcc_q_channel_of(rq, o + 1);
    y0[o * ys] = tcc_q_requantize(a0, cha, rq);
    y0[(o + 1) * ys] = tcc_q_requantize(b0, chb, rq);
    if (y1 != NULL) {
      y1[o * ys] = tcc_q_requantize(a1, cha, rq);
      y1[(o + 1) * ys] = tcc_q_requantize(b1, chb, rq);
    }
  }
  if (o < m) { /* the last channel of an odd m */
    const int8_t *wa = w + o * k;
    int32_t a0 = bias != NULL ? bias[o] : 0, a1 = a0;
    for (int32_t t = 0; t < k4; t += 4) {
      const uint32_t va = tcc_load32(wa + t);
      const uint32_t wa02 = TCC_SXTB16(va), wa13 = TCC_SXTB16_ROR8(va);
      a0 = TCC_SMLAD(wa02, tcc_load32(c0 + t), a0);
      a0 = TCC_SMLAD(wa13, tcc_load32(c0 + t + 2), a0);
      a1 = TCC_SMLAD(wa02, tcc_load32(c1 + t), a1);
      a1 = TCC_SMLAD(wa13, tcc_load32(c1 + t + 2), a1);
    }
    for (int32_t t = k4; t < k; ++t) {
      a0 = tcc_mac(a0, c0[t], wa[t]);
      a1 = tcc_mac(a1, c1[t], wa[t]);
    }
    const tcc_q_channel cha = tcc_q_channel_of(rq, o);
    y0[o * ys] = tcc_q_requantize(a0, cha, rq);
    if (y1 != NULL) y1[o * ys] = tcc_q_requantize(a1, cha, rq);
  }
}

/* Columns of k contiguous int8 values (x0 and, if x1 != NULL, x1) minus zp. */
TCC_INT8_INLINE void tcc_q_fill_rows(const int8_t *x0, const int8_t *x1, int16_t *c0,
                                     int16_t *c1, int32_t k, int32_t zp) {
  const int32_t k4 = k & ~3;
  const uint32_t zp2 = tcc_pack16(zp, zp);
  for (int32_t t = 0; t < k4; t += 4) {
    const uint32_t v = tcc_load32(x0 + t);
    tcc_store32(c0 + t, TCC_SSUB16(TCC_SXTB16(v), zp2));
    tcc_store32(c0 + t + 2, TCC_SSUB16(TCC_SXTB16_ROR8(v), zp2));
    if (x1 != NULL) {
      const uint32_t u = tcc_load32(x1 + t);
      tcc_store32(c1 + t, TCC_SSUB16(TCC_SXTB16(u), zp2));
      tcc_store32(c1 + t + 2, TCC_SSUB16(TCC_SXTB16_ROR8(u), zp2));
    }
  }
  for (int32_t t = k4; t < k; ++t) {
    c0[t] = (int16_t)(x0[t] - zp);
    if (x1 != NULL) c1[t] = (int16_t)(x1[t] - zp);
  }
}

/* ---------------------------------------------------------------------------
 * Convolutions.
 * ------------------------------------------------------------------------- */

/* Scratch (int16 elements) of tcc_q_conv2d_im2col_s8_inline: two columns. */
#define TCC_Q_CONV_SCRATCH(cin, kh, kw) (2 * (cin) * (kh) * (kw))

/* The column of output pixel (i, j): taps (ci, ky, kx) in weight order, the
 * out-of-image ones (zero padding) 0. `inside`: no tap leaves the image. */
TCC_INT8_INLINE void tcc_q_im2col(const int8_t *x, int16_t *col, int32_t i, int32_t j,
                                  tcc_q_conv_shape s, int32_t zp, int32_t inside) {
  const int32_t k = s.c * s.kh * s.kw;
  for (int32_t ci = 0; ci < s.c; ++ci) {
    for (int32_t ky = 0; ky < s.kh; ++ky) {
      const int32_t u = i * s.stride_h - s.pad_h + ky * s.dil_h;
      const int8_t *xr = x + (ci * s.h + u) * s.w;
      for (int32_t kx = 0; kx < s.kw; ++kx) {
        const int32_t v = j * s.stride_w - s.pad_w + kx * s.dil_w;
        const int32_t t = (ci * s.kh + ky) * s.kw + kx;
        const int32_t in = inside || (u >= 0 && u < s.h && v >= 0 && v < s.w);
        col[tcc_q_col_index(t, k)] = (int16_t)(in ? xr[v] - zp : 0);
      }
    }
  }
}

/* Whether every tap of output pixels (i, j..j+count-1) lies inside the image. */
TCC_INT8_INLINE int32_t tcc_q_inside(int32_t i, int32_t j, int32_t count,
                                     tcc_q_conv_shape s) {
  const int32_t u = i * s.stride_h - s.pad_h, v = j * s.stride_w - s.pad_w;
  return u >= 0 && u + (s.kh - 1) * s.dil_h < s.h && v >= 0 &&
         v + (count - 1) * s.stride_w + (s.kw - 1) * s.dil_w < s.w;
}

/* Output row i of one image of the im2col conv (groups == 1): output channel o
 * of pixel j at y_row[o * plane + j]. scratch: TCC_Q_CONV_SCRATCH(C, KH, KW). */
TCC_INT8_INLINE void tcc_q_conv_row_im2col(const int8_t *xn, const int8_t *w,
                                           const int32_t *bias, int8_t *y_row,
                                           int32_t plane, int32_t i, tcc_q_conv_shape s,
                                           tcc_q_requant rq, int16_t *scratch) {
  const int32_t k = s.c * s.kh * s.kw;
  int16_t *c0 = scratch, *c1 = scratch + k;
  for (int32_t j = 0; j < s.ow; j += 2) {
    const int32_t two = j + 1 < s.ow;
    if (tcc_q_inside(i, j, 1 + two, s)) {
      tcc_q_im2col(xn, c0, i, j, s, rq.input_zp, 1);
      if (two) tcc_q_im2col(xn, c1, i, j + 1, s, rq.input_zp, 1);
    } else {
      tcc_q_im2col(xn, c0, i, j, s, rq.input_zp, 0);
      if (two) tcc_q_im2col(xn, c1, i, j + 1, s, rq.input_zp, 0);
    }
    int8_t *yp = y_row + j;
    tcc_q_gemm_2col(c0, two ? c1 : c0, w, bias, yp, two ? yp + 1 : NULL, plane, k, s.o,
                    rq);
  }
}

/* The conv of tcc_q_conv2d_s8_inline for groups == 1 as partial im2col: the
 * columns of two output pixels, then tcc_q_gemm_2col over every output channel.
 * scratch: TCC_Q_CONV_SCRATCH(C, KH, KW) int16 values. */
TCC_INT8_INLINE void tcc_q_conv2d_im2col_s8_inline(const int8_t *x, const int8_t *w,
                                                   const int32_t *bias, int8_t *y,
                                                   tcc_q_conv_shape s, tcc_q_requant rq,
                                                   int16_t *scratch) {
  const int32_t plane = s.oh * s.ow;
  for (int32_t n = 0; n < s.n; ++n) {
    const int8_t *xn = x + n * s.c * s.h * s.w;
    int8_t *yn = y + n * s.o * plane;
    for (int32_t i = 0; i < s.oh; ++i)
      tcc_q_conv_row_im2col(xn, w, bias, yn + i * s.ow, plane, i, s, rq, scratch);
  }
}

/* Scratch (int16 elements) of tcc_q_pointwise_conv2d_s8_inline: two columns. */
#define TCC_Q_POINTWISE_SCRATCH(cin) (2 * (cin))

/* Pointwise (1x1 kernel, stride 1, no padding, groups 1): per pixel p,
 * y[n,o,p] = requant(b[o] + sum_c (x[n,c,p] - x_zp) * w[o,c]). Two pixels at a
 * time are transposed into columns (the NCHW channels of a pixel are HW bytes
 * apart), then tcc_q_gemm_2col. scratch: TCC_Q_POINTWISE_SCRATCH(C). */
/* The pointwise product of `count` pixels: input channel t of pixel p at
 * x[t * xs + p], output channel o at y[o * ys + p]; k input and m output channels.
 * Two pixels at a time are transposed into columns, then tcc_q_gemm_2col.
 * scratch: TCC_Q_POINTWISE_SCRATCH(k). */
TCC_INT8_INLINE void tcc_q_pointwise_span_s8_inline(const int8_t *x, int32_t xs,
                                                    const int8_t *w, const int32_t *bias,
                                                    int8_t *y, int32_t ys, int32_t count,
                                                    int32_t k, int32_t m,
                                                    tcc_q_requant rq, int16_t *scratch) {
  const int32_t k4 = k & ~3;
  const uint32_t zp2 = tcc_pack16(rq.input_zp, rq.input_zp);
  int16_t *c0 = scratch, *c1 = scratch + k;
  int32_t p = 0;
  for (; p + 2 <= count; p += 2) {
    /* Bytes (c, p), (c, p+1), (c+2, p), (c+2, p+1) in one word: TCC_SXTB16
     * gives pixel p's lanes (c, c+2), TCC_SXTB16_ROR8 pixel p+1's. */
    const int8_t *xp = x + p;
    for (int32_t t = 0; t < k4; t += 4) {
      const int8_t *xt = xp + t * xs;
      uint16_t h0, h1, h2, h3;
      memcpy(&h0, xt, 2);
      memcpy(&h1, xt + xs, 2);
      memcpy(&h2, xt + 2 * xs, 2);
      memcpy(&h3, xt + 3 * xs, 2);
      const uint32_t v02 = (uint32_t)h0 | (uint32_t)h2 << 16;
      const uint32_t v13 = (uint32_t)h1 | (uint32_t)h3 << 16;
      tcc_store32(c0 + t, TCC_SSUB16(TCC_SXTB16(v02), zp2));
      tcc_store32(c0 + t + 2, TCC_SSUB16(TCC_SXTB16(v13), zp2));
      tcc_store32(c1 + t, TCC_SSUB16(TCC_SXTB16_ROR8(v02), zp2));
      tcc_store32(c1 + t + 2, TCC_SSUB16(TCC_SXTB16_ROR8(v13), zp2));
    }
    for (int32_t t = k4; t < k; ++t) {
      c0[t] = (int16_t)(xp[t * xs] - rq.input_zp);
      c1[t] = (int16_t)(xp[t * xs + 1] - rq.input_zp);
    }
    tcc_q_gemm_2col(c0, c1, w, bias, y + p, y + p + 1, ys, k, m, rq);
  }
  if (p < count) { /* an odd last pixel */
    for (int32_t t = 0; t < k; ++t)
      c0[tcc_q_col_index(t, k)] = (int16_t)(x[t * xs + p] - rq.input_zp);
    tcc_q_gemm_2col(c0, c0, w, bias, y + p, NULL, ys, k, m, rq);
  }
}

/* Pointwise (1x1 kernel, stride 1, no padding, groups 1): per pixel p,
 * y[n,o,p] = requant(b[o] + sum_c (x[n,c,p] - x_zp) * w[o,c]): the NCHW channels
 * of a pixel are HW bytes apart. scratch: TCC_Q_POINTWISE_SCRATCH(C). */
TCC_INT8_INLINE void tcc_q_pointwise_conv2d_s8_inline(const int8_t *x, const int8_t *w,
                                                      const int32_t *bias, int8_t *y,
                                                      tcc_q_conv_shape s,
                                                      tcc_q_requant rq,
                                                      int16_t *scratch) {
  const int32_t hw = s.h * s.w;
  for (int32_t n = 0; n < s.n; ++n)
    tcc_q_pointwise_span_s8_inline(x + n * s.c * hw, hw, w, bias, y + n * s.o * hw, hw,
                                   hw, s.c, s.o, rq, scratch);
}

/* Depthwise scratch: a ring of (KH-1)*DH+1 zero-padded int16 rows of
 * TCC_Q_DW_ROW values (the padded input row, and room for the last tap pair). */
#define TCC_Q_DW_ROW(w, pw, ow, sw, kw)                                              \
  ((((w) + (pw) > ((ow) - 1) * (sw) + (kw) + ((kw) & 1) ? (w) + (pw)                  \
                                                       : ((ow) - 1) * (sw) + (kw) +  \
                                                             ((kw) & 1)) + 1) & ~1)
#define TCC_Q_DW_SCRATCH(kh, dh, w, pw, ow, sw, kw) \
  ((((kh) - 1) * (dh) + 1) * TCC_Q_DW_ROW(w, pw, ow, sw, kw))
#define TCC_Q_DW_MAX_PAIRS 64  /* KH * ceil(KW / 2) of the fast depthwise path */

/* Input row xr (w int8) minus zp into row[0..w) as int16, four at a time. */
TCC_INT8_INLINE void tcc_q_widen_row(const int8_t *xr, int16_t *row, int32_t w,
                                     int32_t zp) {
  const uint32_t zp2 = tcc_pack16(zp, zp);
  int32_t q = 0;
  for (; q + 4 <= w; q += 4) {
    const uint32_t v = tcc_load32(xr + q);
    const uint32_t e02 = TCC_SSUB16(TCC_SXTB16(v), zp2);
    const uint32_t e13 = TCC_SSUB16(TCC_SXTB16_ROR8(v), zp2);
    tcc_store32(row + q, (e02 & 0xFFFFu) | e13 << 16);
    tcc_store32(row + q + 2, e02 >> 16 | (e13 & 0xFFFF0000u));
  }
  for (; q < w; ++q) row[q] = (int16_t)(xr[q] - zp);
}

/* Depthwise (groups == C, weight C*M x 1 x KH x KW, width dilation 1, at most
 * TCC_Q_DW_MAX_PAIRS tap pairs): output channel oc reads input channel oc / M.
 * Input rows are widened once into a ring of zero-padded int16 rows; each
 * output is one SMLAD per pair of horizontally adjacent taps. scratch:
 * TCC_Q_DW_SCRATCH(KH, DH, W, PW, OW, SW, KW) int16 values. */
TCC_INT8_INLINE void tcc_q_depthwise_conv2d_s8_inline(const int8_t *x, const int8_t *w,
                                                      const int32_t *bias, int8_t *y,
                                                      tcc_q_conv_shape s,
                                                      tcc_q_requant rq,
                                                      int16_t *scratch) {
  const int32_t m = s.o / s.c, ring = (s.kh - 1) * s.dil_h + 1, pairs = (s.kw + 1) / 2;
  const int32_t width = TCC_Q_DW_ROW(s.w, s.pad_w, s.ow, s.stride_w, s.kw);
  for (int32_t n = 0; n < s.n; ++n) {
    for (int32_t oc = 0; oc < s.o; ++oc) {
      const int8_t *xc = x + (n * s.c + oc / m) * s.h * s.w;
      const int8_t *wc = w + oc * s.kh * s.kw;
      int8_t *yc = y + (n * s.o + oc) * s.oh * s.ow;
      uint32_t wp[TCC_Q_DW_MAX_PAIRS]; /* (w[ky][kx], w[ky][kx+1]) lanes, 0 past KW */
      TCC_UNROLL
      for (int32_t ky = 0; ky < s.kh; ++ky)
        TCC_UNROLL
        for (int32_t q = 0; q < pairs; ++q)
          wp[ky * pairs + q] = tcc_pack16(
              wc[ky * s.kw + 2 * q], 2 * q + 1 < s.kw ? wc[ky * s.kw + 2 * q + 1] : 0);
      const int32_t b = bias != NULL ? bias[oc] : 0;
      const tcc_q_channel ch = tcc_q_channel_of(rq, oc);
      memset(scratch, 0, sizeof(int16_t) * (size_t)(ring * width));
      int32_t next = -s.pad_h; /* the first input row not yet in the ring */
      for (int32_t i = 0; i < s.oh; ++i) {
        const int32_t first = i * s.stride_h - s.pad_h;
        for (int32_t r = next > first ? next : first; r < first + ring; ++r) {
          int16_t *row = scratch + ((r + s.pad_h) % ring) * width + s.pad_w;
          if (r >= 0 && r < s.h)
            tcc_q_widen_row(xc + r * s.w, row, s.w, rq.input_zp);
          else
            memset(row, 0, sizeof(int16_t) * (size_t)s.w);
        }
        next = first + ring;
        const int16_t *rows[TCC_Q_DW_MAX_PAIRS];
        TCC_UNROLL
        for (int32_t ky = 0; ky < s.kh; ++ky)
          rows[ky] = scratch + ((first + ky * s.dil_h + s.pad_h) % ring) * width;
        int8_t *yr = yc + i * s.ow;
        int32_t j = 0;
        if (s.kw == 3 && (s.stride_w == 1 || s.stride_w == 2)) {
          /* Two outputs per step from shared loads: with P01 = (w0, w1) and
           * P12 = (w1, w2), stride 1 reads x0..x3 as (x0, x1), (x2, x3):
           *   y0 = x0 w0 + x1 w1 + x2 w2 = SMLAD(X01, P01) + SMLABT(X23, P12)
           *   y1 = x1 w0 + x2 w1 + x3 w2 = SMLATB(X01, P01) + SMLAD(X23, P12);
           * stride 2 reads x0..x5: y1 = SMLAD(X23, P01) + SMLABT(X45, P12). */
          for (; j + 2 <= s.ow; j += 2) {
            int32_t acc0 = b, acc1 = b;
            TCC_UNROLL
            for (int32_t ky = 0; ky < s.kh; ++ky) {
              const int16_t *row = rows[ky] + j * s.stride_w;
              const uint32_t p01 = wp[ky * 2], w2 = wp[ky * 2 + 1];
              const uint32_t p12 = (p01 >> 16) | w2 << 16;
              const uint32_t x01 = tcc_load32(row), x23 = tcc_load32(row + 2);
              acc0 = TCC_SMLAD(x01, p01, acc0);
              acc0 = TCC_SMLABT(x23, p12, acc0);
              if (s.stride_w == 1) {
                acc1 = TCC_SMLATB(x01, p01, acc1);
                acc1 = TCC_SMLAD(x23, p12, acc1);
              } else {
                acc1 = TCC_SMLAD(x23, p01, acc1);
                acc1 = TCC_SMLABT(tcc_load32(row + 4), p12, acc1);
              }
            }
            yr[j] = tcc_q_requantize(acc0, ch, rq);
            yr[j + 1] = tcc_q_requantize(acc1, ch, rq);
          }
        }
        for (; j < s.ow; ++j) {
          int32_t acc = b;
          TCC_UNROLL
          for (int32_t ky = 0; ky < s.kh; ++ky) {
            const int16_t *row = rows[ky] + j * s.stride_w;
            TCC_UNROLL
            for (int32_t q = 0; q < pairs; ++q)
              acc = TCC_SMLAD(tcc_load32(row + 2 * q), wp[ky * pairs + q], acc);
          }
          yr[j] = tcc_q_requantize(acc, ch, rq);
        }
      }
    }
  }
}

/* ---------------------------------------------------------------------------
 * Fused inverted bottleneck (train.qbottleneck): [1x1 expand] -> depthwise ->
 * 1x1 project, computed output row by output row so that neither the expanded
 * nor the depthwise tensor exists whole.
 * ------------------------------------------------------------------------- */

typedef struct {
  int32_t n, c, h, w;           /* N, input C, depthwise input H, W */
  int32_t e, o, kh, kw;         /* expanded channels (C without expansion), outputs, kernel */
  int32_t oh, ow, stride_h, stride_w, pad_h, pad_w;
  int32_t expand;               /* 0: none; 1: a 1x1 expansion from C to E channels;
                                   2: a dense KxK one (a first conv), the fields below */
  int32_t xh, xw;               /* input H, W (H, W but for expand 2) */
  int32_t ekh, ekw, estride_h, estride_w, epad_h, epad_w; /* the expansion's geometry */
} tcc_q_bottleneck_shape;

/* Depthwise output pixels of a row computed, then projected, at a time (the
 * projection takes two pixels at a time). */
#define TCC_Q_BOTTLENECK_SPAN 4
/* Arena scratch (int8 bytes): the ring of KH expanded rows of every channel
 * (expansion only), then TCC_Q_BOTTLENECK_SPAN depthwise output pixels (fewer in a
 * narrower row) of every channel. */
#define TCC_Q_BOTTLENECK_ARENA(e, kh, w, ow, expand) \
  (((expand) ? (e) * (kh) * (w) : 0) +                \
   (e) * ((ow) < TCC_Q_BOTTLENECK_SPAN ? (ow) : TCC_Q_BOTTLENECK_SPAN))
/* Stack scratch (int16 values): the columns of the wider 1x1 conv, or of the
 * expansion's KxK conv (taps = EKH * EKW, 1 without). */
#define TCC_Q_BOTTLENECK_SCRATCH(c, e, taps)                                          \
  (TCC_Q_POINTWISE_SCRATCH((c) > (e) ? (c) : (e)) > TCC_Q_CONV_SCRATCH(c, taps, 1)   \
       ? TCC_Q_POINTWISE_SCRATCH((c) > (e) ? (c) : (e))                               \
       : TCC_Q_CONV_SCRATCH(c, taps, 1))

/* Depthwise output pixels [j0, j0 + count) of row i of every channel into
 * d[m * count + j - j0]: channel m's input row r (0 <= r < h) at src + m * plane +
 * (r % rows) * w (rows: the ring's height, or h for the whole input); out-of-image
 * taps are skipped (padding holds the input zero point, zero in the shifted domain). */
TCC_INT8_INLINE void tcc_q_bottleneck_depthwise_span(const int8_t *src, int32_t plane,
                                                     int32_t rows, const int8_t *wd,
                                                     const int32_t *bd, int8_t *d,
                                                     int32_t i, int32_t j0, int32_t count,
                                                     tcc_q_bottleneck_shape s,
                                                     tcc_q_requant rq) {
  const int32_t first = i * s.stride_h - s.pad_h;
  const int32_t ky0 = first < 0 ? -first : 0;
  const int32_t ky1 = first + s.kh > s.h ? s.h - first : s.kh;
  for (int32_t m = 0; m < s.e; ++m) {
    const int8_t *wm = wd + m * s.kh * s.kw;
    const tcc_q_channel ch = tcc_q_channel_of(rq, m);
    int8_t *dm = d + m * count - j0;
    for (int32_t j = j0; j < j0 + count; ++j) {
      const int32_t left = j * s.stride_w - s.pad_w;
      const int32_t kx0 = left < 0 ? -left : 0;
      const int32_t kx1 = left + s.kw > s.w ? s.w - left : s.kw;
      int32_t acc = bd[m];
      for (int32_t ky = ky0; ky < ky1; ++ky) {
        const int8_t *row = src + m * plane + ((first + ky) % rows) * s.w + left;
        const int8_t *wr = wm + ky * s.kw;
        for (int32_t kx = kx0; kx < kx1; ++kx)
          acc = tcc_mac(acc, row[kx] - rq.input_zp, wr[kx]);
      }
      dm[j] = tcc_q_requantize(acc, ch, rq);
    }
  }
}

/* One fused bottleneck as a stage of a row stream: its weights, shape and
 * requantizations, its arena scratch (TCC_Q_BOTTLENECK_ARENA bytes), and where
 * its input rows come from: x (the input of the batch item being computed), or,
 * for a 1x1 expansion, `source`, the stage before it (train.streamed), which
 * computes its output row r into source_row ([o][ow] of that stage) when this
 * stage needs its input row r. */
typedef struct tcc_q_stage {
  const int8_t *x;
  const int8_t *we, *wd, *wp;
  const int32_t *be, *bd, *bp;
  tcc_q_bottleneck_shape s;
  tcc_q_requant rq_e, rq_d, rq_p;
  int8_t *arena;
  struct tcc_q_stage *source;
  int8_t *source_row;
  int32_t next; /* the first expanded row not yet computed (of this batch item) */
} tcc_q_stage;

/* Output row i of a stage (out of line: a stage calls its source's). */
void tcc_q_bottleneck_row(tcc_q_stage *st, int32_t i, int8_t *y, int32_t plane,
                          int16_t *scratch);

/* The expanded rows [*from, *to) output row i of stage st reads that are not yet in
 * its ring (rows are asked for in increasing order, each computed once: the ring
 * slots they overwrite belong to rows above the window); marks them computed. */
TCC_INT8_INLINE void tcc_q_bottleneck_window(tcc_q_stage *st, int32_t i, int32_t *from,
                                             int32_t *to) {
  const int32_t first = i * st->s.stride_h - st->s.pad_h;
  const int32_t end = first + st->s.kh < st->s.h ? first + st->s.kh : st->s.h;
  *from = st->next > first ? st->next : (first > 0 ? first : 0);
  *to = end;
  if (end > st->next) st->next = end;
}

/* Expanded row r of every channel into ring slot r % KH: a 1x1 expansion of the input
 * row at `row` (channel planes rows_apart bytes apart), or the dense KxK expansion (a
 * first conv) of the stage's x. */
TCC_INT8_INLINE void tcc_q_bottleneck_expand_row(tcc_q_stage *st, int32_t r,
                                                 const int8_t *row, int32_t rows_apart,
                                                 int16_t *scratch) {
  const tcc_q_bottleneck_shape s = st->s;
  int8_t *slot = st->arena + (r % s.kh) * s.w;
  if (s.expand == 1) {
    tcc_q_pointwise_span_s8_inline(row, rows_apart, st->we, st->be, slot, s.kh * s.w, s.w,
                                   s.c, s.e, st->rq_e, scratch);
  } else {
    const tcc_q_conv_shape se = {1, s.c, s.xh, s.xw, s.e, s.ekh, s.ekw, s.h, s.w,
                                 s.estride_h, s.estride_w, s.epad_h, s.epad_w, 1, 1, 1};
    tcc_q_conv_row_im2col(st->x, st->we, st->be, slot, s.kh * s.w, r, se, st->rq_e,
                          scratch);
  }
}

/* Output row i of every channel of stage st into y[m * plane + j], its expanded rows
 * in the ring: TCC_Q_BOTTLENECK_SPAN depthwise pixels at a time, then their
 * projection. */
TCC_INT8_INLINE void tcc_q_bottleneck_finish_row(tcc_q_stage *st, int32_t i, int8_t *y,
                                                 int32_t plane, int16_t *scratch) {
  const tcc_q_bottleneck_shape s = st->s;
  int8_t *d = st->arena + (s.expand ? s.e * s.kh * s.w : 0);
  for (int32_t j0 = 0; j0 < s.ow; j0 += TCC_Q_BOTTLENECK_SPAN) {
    const int32_t count = s.ow - j0 < TCC_Q_BOTTLENECK_SPAN ? s.ow - j0
                                                            : TCC_Q_BOTTLENECK_SPAN;
    if (s.expand)
      tcc_q_bottleneck_depthwise_span(st->arena, s.kh * s.w, s.kh, st->wd, st->bd, d, i,
                                      j0, count, s, st->rq_d);
    else
      tcc_q_bottleneck_depthwise_span(st->x, s.xh * s.xw, s.h, st->wd, st->bd, d, i, j0,
                                      count, s, st->rq_d);
    tcc_q_pointwise_span_s8_inline(d, count, st->wp, st->bp, y + j0, plane, count, s.e,
                                   s.o, st->rq_p, scratch);
  }
}

/* Output row i of stage st from its x (no source). */
TCC_INT8_INLINE void tcc_q_bottleneck_row_inline(tcc_q_stage *st, int32_t i, int8_t *y,
                                                 int32_t plane, int16_t *scratch) {
  if (st->s.expand) {
    int32_t from, to;
    tcc_q_bottleneck_window(st, i, &from, &to);
    for (int32_t r = from; r < to; ++r)
      tcc_q_bottleneck_expand_row(st, r, st->x + r * st->s.w, st->s.xh * st->s.xw,
                                  scratch);
  }
  tcc_q_bottleneck_finish_row(st, i, y, plane, scratch);
}

/* y = project(depthwise(expand(x))), each a requantized int8 conv with its own
 * rq (rq_e unused without expansion), bit-exact with the three qconv2d ops,
 * computed output row by output row (tcc_q_bottleneck_row_inline). arena:
 * TCC_Q_BOTTLENECK_ARENA bytes; scratch: TCC_Q_BOTTLENECK_SCRATCH(C, E, EKH * EKW)
 * int16 values. */
TCC_INT8_INLINE void tcc_q_bottleneck_s8_inline(
    const int8_t *x, const int8_t *we, const int32_t *be, const int8_t *wd,
    const int32_t *bd, const int8_t *wp, const int32_t *bp, int8_t *y,
    tcc_q_bottleneck_shape s, tcc_q_requant rq_e, tcc_q_requant rq_d,
    tcc_q_requant rq_p, int8_t *arena, int16_t *scratch) {
  tcc_q_stage st = {x, we, wd, wp, be, bd, bp, s, rq_e, rq_d, rq_p, arena, NULL, NULL, 0};
  for (int32_t n = 0; n < s.n; ++n) {
    int8_t *yn = y + n * s.o * s.oh * s.ow;
    st.x = x + n * s.c * s.xh * s.xw;
    st.next = 0;
    for (int32_t i = 0; i < s.oh; ++i)
      tcc_q_bottleneck_row_inline(&st, i, yn + i * s.ow, s.oh * s.ow, scratch);
  }
}

/* Two stages, `head` (reading x) streaming its rows into `tail` (a 1x1 expansion):
 * y = tail(head(x)), every call inlined so that both shapes stay compile-time
 * constants (the general chain is tcc_q_bottleneck_chain_s8). `row` holds the head
 * output row the tail's expansion reads (the stages' source fields are unused). */
TCC_INT8_INLINE void tcc_q_bottleneck_pair_s8_inline(const int8_t *x, tcc_q_stage head,
                                                     tcc_q_stage tail, int8_t *row,
                                                     int8_t *y, int16_t *scratch) {
  const tcc_q_bottleneck_shape hs = head.s, s = tail.s;
  for (int32_t n = 0; n < s.n; ++n) {
    int8_t *yn = y + n * s.o * s.oh * s.ow;
    head.x = x + n * hs.c * hs.xh * hs.xw;
    head.next = tail.next = 0;
    for (int32_t i = 0; i < s.oh; ++i) {
      int32_t from, to;
      tcc_q_bottleneck_window(&tail, i, &from, &to);
      for (int32_t r = from; r < to; ++r) {
        tcc_q_bottleneck_row_inline(&head, r, row, hs.ow, scratch);
        tcc_q_bottleneck_expand_row(&tail, r, row, hs.ow, scratch);
      }
      tcc_q_bottleneck_finish_row(&tail, i, yn + i * s.ow, s.oh * s.ow, scratch);
    }
  }
}

/* Scratch (int16 elements) of tcc_q_linear_s8_inline: two columns. */
#define TCC_Q_LINEAR_SCRATCH(k) (2 * (k))

/* y[r,j] = requant(b[j] + sum_i (x[r,i] - x_zp) * w[j,i]), x [n,k], w [m,k]: two
 * rows of x at a time as columns, then tcc_q_gemm_2col. scratch:
 * TCC_Q_LINEAR_SCRATCH(k). */
TCC_INT8_INLINE void tcc_q_linear_s8_inline(const int8_t *x, const int8_t *w,
                                            const int32_t *bias, int8_t *y, int32_t n,
                                            int32_t k, int32_t m, tcc_q_requant rq,
                                            int16_t *scratch) {
  int16_t *c0 = scratch, *c1 = scratch + k;
  for (int32_t r = 0; r < n; r += 2) {
    const int32_t two = r + 1 < n;
    tcc_q_fill_rows(x + r * k, two ? x + (r + 1) * k : NULL, c0, c1, k, rq.input_zp);
    tcc_q_gemm_2col(c0, two ? c1 : c0, w, bias, y + r * m, two ? y + (r + 1) * m : NULL,
                    1, k, m, rq);
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
      /* |va| <= 255: va * 2^20 fits in int32; |sa|, |sb| < 2^28. */
      const int32_t sa = tcc_rdbpot_srdhm(
          tcc_srdhm_pos(va * (1 << TCC_ADD_LEFT_SHIFT), p.a_multiplier), -p.a_shift);
      const int32_t sb = tcc_rdbpot_srdhm(
          tcc_srdhm_pos(vb * (1 << TCC_ADD_LEFT_SHIFT), p.b_multiplier), -p.b_shift);
      v = tcc_rdbpot_srdhm(tcc_srdhm_pos(sa + sb, p.y_multiplier), -p.y_shift);
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
void tcc_q_conv2d_im2col_s8(const int8_t *x, const int8_t *w, const int32_t *bias,
                            int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq,
                            int16_t *scratch);
void tcc_q_depthwise_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias,
                               int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq,
                               int16_t *scratch);
void tcc_q_pointwise_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias,
                               int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq,
                               int16_t *scratch);
void tcc_q_linear_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                     int32_t n, int32_t k, int32_t m, tcc_q_requant rq, int16_t *scratch);
void tcc_q_bottleneck_s8(const int8_t *x, const int8_t *we, const int32_t *be,
                         const int8_t *wd, const int32_t *bd, const int8_t *wp,
                         const int32_t *bp, int8_t *y, tcc_q_bottleneck_shape s,
                         tcc_q_requant rq_e, tcc_q_requant rq_d, tcc_q_requant rq_p,
                         int8_t *arena, int16_t *scratch);
/* A chain of stages (`last` and its sources, each streaming its rows into the
 * next): y = last(...(head(x))), where head is the stage without a source; the
 * stages' x, next are set here. scratch: the largest TCC_Q_BOTTLENECK_SCRATCH of
 * the stages. */
void tcc_q_bottleneck_chain_s8(const int8_t *x, tcc_q_stage *last, int8_t *y,
                               int16_t *scratch);
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

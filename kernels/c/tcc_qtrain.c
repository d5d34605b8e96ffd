/*
 * tcc_qtrain.c - int8 training kernels (see tcc_qtrain.h).
 */
#include "tcc_qtrain.h"

#include <math.h>

void tcc_dequantize_f32(const int8_t *x, float *y, int32_t size, int32_t channels,
                        int32_t inner, const float *scale_hi, const float *scale_lo,
                        int32_t zp) {
  if (channels == 1) inner = size;
  /* Blocks of `inner` values share channel c = block % channels. */
  for (int32_t start = 0, c = 0; start < size; start += inner) {
    const float hi = scale_hi[c], lo = scale_lo[c];
    const int32_t end = size - start < inner ? size : start + inner;
    for (int32_t i = start; i < end; ++i) y[i] = tcc_dequantize_one(x[i], zp, hi, lo);
    if (++c == channels) c = 0;
  }
}

/* One int8 update: p - step bounded, rounded half to even, saturated; a NaN
 * update keeps p. */
static inline int8_t tcc_qsgd_s8_one(int8_t stored, float g, float coef, float decay,
                                     float zp, float lo, float hi, int32_t qmin,
                                     int32_t qmax) {
  const float p = (float)stored;
  float step = coef * g;
  if (decay != 0.0f) step += decay * (p - zp);
  const float updated = p - step;
  if (updated != updated) return stored; /* NaN: unchanged */
  /* Bound first (a no-op inside the range), then round half to even. */
  const float r = rintf(updated < lo ? lo : updated > hi ? hi : updated);
  return (int8_t)(r < (float)qmin ? qmin : r > (float)qmax ? qmax : (int32_t)r);
}

/* The int8 updates of values [index, index + count), all of one channel. */
static inline void tcc_qsgd_s8_block(int8_t *param, const float *grad, int32_t index,
                                     int32_t count, const tcc_qsgd_params *q) {
  int32_t c = q->channels == 1 ? 0 : index / q->inner;
  if (c >= q->channels) c %= q->channels;
  if (q->dead != NULL && q->dead[c]) return; /* a dead channel keeps its values */
  /* Locals: stores through the int8 `param` may alias *q for the compiler. */
  const float coef = q->coef[c], decay = q->decay, zp = (float)q->zp;
  const float lo = (float)q->qmin - 1.0f, hi = (float)q->qmax + 1.0f;
  const int32_t qmin = q->qmin, qmax = q->qmax;
  for (int32_t i = 0; i < count; ++i)
    param[i] = tcc_qsgd_s8_one(param[i], grad[i], coef, decay, zp, lo, hi, qmin, qmax);
}

void tcc_qsgd_s8(int8_t *param, const float *grad, int32_t size, const tcc_qsgd_params *q) {
  const int32_t inner = q->channels == 1 ? size : q->inner;
  for (int32_t start = 0; start < size; start += inner) {
    const int32_t count = size - start < inner ? size - start : inner;
    tcc_qsgd_s8_block(param + start, grad + start, start, count, q);
  }
}

typedef struct {
  tcc_dw_sink sink;
  int8_t *param;
  const tcc_qsgd_params *q;
} tcc_qsgd_sink;

static void tcc_qsgd_put(const tcc_dw_sink *sink, const float *g, int32_t gs, int32_t index,
                         int32_t stride, int32_t rows, int32_t count) {
  const tcc_qsgd_sink *u = (const tcc_qsgd_sink *)sink;
  for (int32_t r = 0; r < rows; ++r, g += gs, index += stride)
    tcc_qsgd_s8_block(u->param + index, g, index, count, u->q);
}

void tcc_conv2d_grad_weight_qsgd_s8(const float *dy, const float *x, int8_t *param,
                                    const tcc_conv2d_params *p, const tcc_qsgd_params *q) {
  const tcc_qsgd_sink sink = {{tcc_qsgd_put}, param, q};
  tcc_conv2d_grad_weight_to(dy, x, NULL, p, &sink.sink);
}

void tcc_conv2d_grad_weight_qsgd_s8x(const float *dy, const int8_t *x, const float *table,
                                     float *scratch, int8_t *param,
                                     const tcc_conv2d_params *p, const tcc_qsgd_params *q) {
  const tcc_qsgd_sink sink = {{tcc_qsgd_put}, param, q};
  tcc_conv2d_grad_weight_s8x_to(dy, x, table, scratch, p, &sink.sink);
}

/* v[i] = bit (first + i) of mask ? v[i] : 0, for i < size. */
static void tcc_mask_bits_f32(float *v, const int8_t *mask, int32_t first, int32_t size) {
  for (int32_t i = 0; i < size; ++i) {
    const int32_t bit = first + i;
    if (!(((uint8_t)mask[bit >> 3] >> (bit & 7)) & 1u)) v[i] = 0.0f;
  }
}

/* Output channels of the projection staged per block of g2 sums. */
#define TCC_BOTTLENECK_GRAD_OC 32

/* g[b][j] (planes of hw floats, g channels) = sum over increasing oc of dy[b][oc] *
 * w[oc, c0 + j], from +0: tcc_grad_input_1x1_f32's sums for channels c0..c0+g. */
static void tcc_bottleneck_project(const float *dy, const tcc_weight *w, float *g, int32_t n,
                                   int32_t o, int32_t e, int32_t c0, int32_t count,
                                   int32_t hw) {
  float wb[TCC_BOTTLENECK_GRAD_OC * TCC_BOTTLENECK_GRAD_CHANNELS];
  for (int32_t oc0 = 0; oc0 < o; oc0 += TCC_BOTTLENECK_GRAD_OC) {
    const int32_t oc_count = o - oc0 < TCC_BOTTLENECK_GRAD_OC ? o - oc0 : TCC_BOTTLENECK_GRAD_OC;
    for (int32_t r = 0; r < oc_count; ++r)
      for (int32_t j = 0; j < count; ++j) {
        float one;
        wb[r * TCC_BOTTLENECK_GRAD_CHANNELS + j] =
            *tcc_weight_taps(w, oc0 + r, c0 + j, e, 1, &one);
      }
    for (int32_t b = 0; b < n; ++b) {
      const float *d = dy + (b * o + oc0) * hw;
      float *gb = g + b * count * hw;
      int32_t i = 0;
      if (count == 4) /* four channels in registers, the usual case */
        for (; i < hw; ++i) {
          float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
          if (oc0 > 0) {
            a0 = gb[i];
            a1 = gb[hw + i];
            a2 = gb[2 * hw + i];
            a3 = gb[3 * hw + i];
          }
          const float *wr = wb, *v = d + i;
          for (int32_t r = 0; r < oc_count; ++r, wr += 4, v += hw) {
            const float x = *v;
            a0 += wr[0] * x;
            a1 += wr[1] * x;
            a2 += wr[2] * x;
            a3 += wr[3] * x;
          }
          gb[i] = a0;
          gb[hw + i] = a1;
          gb[2 * hw + i] = a2;
          gb[3 * hw + i] = a3;
        }
      for (; i < hw; ++i) {
        float acc[TCC_BOTTLENECK_GRAD_CHANNELS];
        for (int32_t j = 0; j < count; ++j) acc[j] = oc0 > 0 ? gb[j * hw + i] : 0.0f;
        for (int32_t r = 0; r < oc_count; ++r) {
          const float v = d[r * hw + i];
          const float *wr = wb + r * TCC_BOTTLENECK_GRAD_CHANNELS;
          for (int32_t j = 0; j < count; ++j) acc[j] += wr[j] * v;
        }
        for (int32_t j = 0; j < count; ++j) gb[j * hw + i] = acc[j];
      }
    }
  }
}

/* Channel j of g ([n][count][hw]) masked by the bits of channel c0 + j of [n][e][hw],
 * and its sum over (b, i) in order from +0 (tcc_bias_grad_f32's) into db[c0 + j]. */
static void tcc_bottleneck_mask_sum(float *g, const int8_t *mask, float *db, int32_t n,
                                    int32_t e, int32_t c0, int32_t count, int32_t hw) {
  for (int32_t j = 0; j < count; ++j) {
    float acc = 0.0f;
    for (int32_t b = 0; b < n; ++b) {
      float *v = g + (b * count + j) * hw;
      tcc_mask_bits_f32(v, mask, (b * e + c0 + j) * hw, hw);
      for (int32_t i = 0; i < hw; ++i) acc += v[i];
    }
    db[c0 + j] = acc;
  }
}

void tcc_bottleneck_grad_f32(const float *dy, const tcc_weight *project, const tcc_weight *dw,
                             const int8_t *depthwise_mask, const tcc_weight *expand,
                             const int8_t *expand_mask, float *dx, float *depthwise_bias_grad,
                             float *expand_bias_grad, int8_t *param, const int8_t *x,
                             const float *table, const tcc_qsgd_params *q, float *scratch,
                             const tcc_bottleneck_grad_params *p) {
  const tcc_conv2d_params *d = &p->depthwise;
  const int32_t n = p->n, e = p->e, hw = d->h * d->w, ohw = d->oh * d->ow;
  const int32_t group = e < TCC_BOTTLENECK_GRAD_CHANNELS ? e : TCC_BOTTLENECK_GRAD_CHANNELS;
  float *g2 = scratch, *g1 = scratch + n * group * ohw, *x_scratch = g1 + n * group * hw;
  for (int32_t i = 0; i < n * p->c * hw; ++i) dx[i] = 0.0f;
  /* One image of one channel of the depthwise conv at a time. */
  tcc_conv2d_params one_image = *d;
  one_image.n = 1;
  for (int32_t c0 = 0; c0 < e; c0 += group) {
    const int32_t count = e - c0 < group ? e - c0 : group;
    /* g2 = the projection's input gradient of channels c0.., masked; its sums. */
    tcc_bottleneck_project(dy, project, g2, n, p->o, e, c0, count, ohw);
    tcc_bottleneck_mask_sum(g2, depthwise_mask, depthwise_bias_grad, n, e, c0, count, ohw);
    for (int32_t b = 0; b < n; ++b)
      for (int32_t j = 0; j < count; ++j)
        tcc_depthwise_grad_input_channel_f32(g2 + (b * count + j) * ohw, dw, c0 + j,
                                             g1 + (b * count + j) * hw, &one_image);
    tcc_bottleneck_mask_sum(g1, expand_mask, expand_bias_grad, n, e, c0, count, hw);
    /* dx[ci] += sum over j of expand[c0 + j, ci] * g1[j]: these channels' terms of
     * every sum over the expanded channels, in increasing channel. */
    for (int32_t ci = 0; ci < p->c; ++ci) {
      float w[TCC_BOTTLENECK_GRAD_CHANNELS];
      for (int32_t j = 0; j < count; ++j) {
        float one;
        w[j] = *tcc_weight_taps(expand, c0 + j, ci, p->c, 1, &one);
      }
      for (int32_t b = 0; b < n; ++b) {
        float *dxc = dx + (b * p->c + ci) * hw;
        const float *g = g1 + b * count * hw;
        int32_t i = 0;
        if (count == 4) {
          const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
          for (; i < hw; ++i) {
            float acc = dxc[i];
            acc += w0 * g[i];
            acc += w1 * g[hw + i];
            acc += w2 * g[2 * hw + i];
            acc += w3 * g[3 * hw + i];
            dxc[i] = acc;
          }
        }
        for (; i < hw; ++i) {
          float acc = dxc[i];
          for (int32_t j = 0; j < count; ++j) acc += w[j] * g[j * hw + i];
          dxc[i] = acc;
        }
      }
    }
    if (param != NULL) {
      /* Rows c0.. of the expansion's weight, a 1x1 weight gradient of count outputs. */
      const tcc_conv2d_params rows = {n, p->x_channels, d->h, d->w, count, 1, 1, d->h, d->w,
                                      1, 1, 0, 0, 1, 1, 1};
      tcc_qsgd_params part = *q;
      if (q->channels != 1) {
        part.coef += c0;
        if (part.dead != NULL) part.dead += c0;
        part.channels = count;
      }
      tcc_conv2d_grad_weight_qsgd_s8x(g1, x, table, x_scratch, param + c0 * p->x_channels,
                                      &rows, &part);
    }
  }
}

void tcc_qsgd_s32(int32_t *param, const float *grad, int32_t size,
                  const tcc_qsgd_params *q) {
  const float decay = q->decay, zp = (float)q->zp;
  const int32_t inner = q->channels == 1 ? size : q->inner, channels = q->channels;
  /* Blocks of `inner` values share channel c = block % channels. */
  for (int32_t start = 0, c = 0; start < size; start += inner) {
    const int32_t end = size - start < inner ? size : start + inner;
    const int32_t skip = q->dead != NULL && q->dead[c];
    const float coef = q->coef[c];
    if (++c == channels) c = 0;
    if (skip) continue; /* a dead channel keeps its values */
    for (int32_t i = start; i < end; ++i) {
      float step = coef * grad[i];
      if (decay != 0.0f) step += decay * ((float)param[i] - zp);
      float t = -step; /* p' = p + t */
      if (t != t) continue;
      float whole;
      int64_t v = param[i];
      if (t > -2147483648.0f && t < 2147483648.0f) {
        /* floor(t) through an int32 conversion (toward zero), exact in float: a t
         * beyond 2^23 is an integer, a smaller one's floor is within 2^23. */
        int32_t w = (int32_t)t;
        if ((float)w > t) w -= 1;
        whole = (float)w;
        v += w;
      } else {
        /* |t| beyond 2^32 saturates whatever p is. */
        t = t < -4294967296.0f ? -4294967296.0f : t > 4294967296.0f ? 4294967296.0f : t;
        whole = floorf(t);
        v += (int64_t)whole;
      }
      const float frac = t - whole; /* exact: t and floor(t) share their exponent range */
      /* Round p + t half to even: p + whole is an integer, frac in [0, 1). */
      if (frac > 0.5f || (frac == 0.5f && (v & 1) != 0)) v += 1;
      param[i] = (int32_t)(v < q->qmin ? q->qmin : v > q->qmax ? q->qmax : v);
    }
  }
}

/* a0 += sum_t c0[t] * w[t], a1 += sum_t c1[t] * w[t] for t < k (int16 columns,
 * int8 weights, any alignment): two products per SMLAD; integer sums, any order. */
static void tcc_q_dot_2col(const int16_t *c0, const int16_t *c1, const int8_t *w,
                           int32_t k, int32_t *a0, int32_t *a1) {
  int32_t s0 = *a0, s1 = *a1, t = 0;
  for (; t + 4 <= k; t += 4) {
    const uint32_t v = tcc_load32(w + t);
    const uint32_t w02 = TCC_SXTB16(v), w13 = TCC_SXTB16_ROR8(v);
    /* Column lanes (t, t+2) and (t+1, t+3) to match the weight lanes. */
    const uint32_t x01 = tcc_load32(c0 + t), x23 = tcc_load32(c0 + t + 2);
    const uint32_t z01 = tcc_load32(c1 + t), z23 = tcc_load32(c1 + t + 2);
    s0 = TCC_SMLAD(w02, (x01 & 0xFFFFu) | (x23 << 16), s0);
    s0 = TCC_SMLAD(w13, (x01 >> 16) | (x23 & 0xFFFF0000u), s0);
    s1 = TCC_SMLAD(w02, (z01 & 0xFFFFu) | (z23 << 16), s1);
    s1 = TCC_SMLAD(w13, (z01 >> 16) | (z23 & 0xFFFF0000u), s1);
  }
  for (; t < k; ++t) {
    s0 = tcc_mac(s0, c0[t], w[t]);
    s1 = tcc_mac(s1, c1[t], w[t]);
  }
  *a0 = s0;
  *a1 = s1;
}

/* The split pointwise conv: pixels two at a time widened into int16 columns
 * (input channel t of pixel p at x[t * hw + p], minus the input zero point),
 * each output channel's row read from its two parts. */
static void tcc_q_pointwise_split_s8(const int8_t *x, const int8_t *w, const int8_t *w_rest,
                                     int32_t split_axis, int32_t split, const int32_t *bias,
                                     int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq) {
  const int32_t hw = s.h * s.w, k = s.c;
  int16_t c0[TCC_Q_SPLIT_MAX_C], c1[TCC_Q_SPLIT_MAX_C];
  for (int32_t n = 0; n < s.n; ++n) {
    const int8_t *xn = x + n * s.c * hw;
    int8_t *yn = y + n * s.o * hw;
    for (int32_t p = 0; p < hw; p += 2) {
      const int32_t two = p + 1 < hw;
      for (int32_t t = 0; t < k; ++t) {
        c0[t] = (int16_t)(xn[t * hw + p] - rq.input_zp);
        c1[t] = two ? (int16_t)(xn[t * hw + p + 1] - rq.input_zp) : 0;
      }
      for (int32_t oc = 0; oc < s.o; ++oc) {
        int32_t a0 = 0, a1 = 0;
        if (split_axis == 0) {
          tcc_q_dot_2col(c0, c1, oc < split ? w + oc * k : w_rest + (oc - split) * k, k,
                         &a0, &a1);
        } else {
          tcc_q_dot_2col(c0, c1, w + oc * split, split, &a0, &a1);
          tcc_q_dot_2col(c0 + split, c1 + split, w_rest + oc * (k - split), k - split,
                         &a0, &a1);
        }
        yn[oc * hw + p] = tcc_q_output(a0, bias, oc, rq);
        if (two) yn[oc * hw + p + 1] = tcc_q_output(a1, bias, oc, rq);
      }
    }
  }
}

void tcc_q_conv2d_split_s8(const int8_t *x, const int8_t *w, const int8_t *w_rest,
                           int32_t split_axis, int32_t split, const int32_t *bias,
                           int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq) {
  if (s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 &&
      s.pad_w == 0 && s.groups == 1 && s.c <= TCC_Q_SPLIT_MAX_C) {
    tcc_q_pointwise_split_s8(x, w, w_rest, split_axis, split, bias, y, s, rq);
    return;
  }

  const int32_t cg = s.c / s.groups, og = s.o / s.groups, taps = s.kh * s.kw;
  for (int32_t n = 0; n < s.n; ++n) {
    for (int32_t oc = 0; oc < s.o; ++oc) {
      const int32_t g = oc / og;
      int8_t *yc = y + (n * s.o + oc) * s.oh * s.ow;
      for (int32_t i = 0; i < s.oh; ++i) {
        for (int32_t j = 0; j < s.ow; ++j) {
          int32_t acc = 0;
          for (int32_t ci = 0; ci < cg; ++ci) {
            const int8_t *xc = x + (n * s.c + g * cg + ci) * s.h * s.w;
            const int8_t *wc;
            if (split_axis == 0)
              wc = oc < split ? w + (oc * cg + ci) * taps
                              : w_rest + ((oc - split) * cg + ci) * taps;
            else
              wc = ci < split ? w + (oc * split + ci) * taps
                              : w_rest + (oc * (cg - split) + ci - split) * taps;
            for (int32_t a = 0; a < s.kh; ++a) {
              const int32_t u = i * s.stride_h - s.pad_h + a * s.dil_h;
              if (u < 0 || u >= s.h) continue;
              for (int32_t b = 0; b < s.kw; ++b) {
                const int32_t v = j * s.stride_w - s.pad_w + b * s.dil_w;
                if (v < 0 || v >= s.w) continue;
                acc += (xc[u * s.w + v] - rq.input_zp) * wc[a * s.kw + b];
              }
            }
          }
          yc[i * s.ow + j] = tcc_q_output(acc, bias, oc, rq);
        }
      }
    }
  }
}

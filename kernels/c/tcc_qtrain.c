/*
 * tcc_qtrain.c - int8 training kernels (see tcc_qtrain.h).
 */
#include "tcc_qtrain.h"

#include <math.h>

void tcc_dequantize_f32(const int8_t *x, float *y, int32_t size, int32_t channels,
                        int32_t inner, const float *scale_hi, const float *scale_lo,
                        int32_t zp) {
  for (int32_t i = 0; i < size; ++i) {
    const int32_t c = channels == 1 ? 0 : (i / inner) % channels;
    y[i] = tcc_dequantize_one(x[i], zp, scale_hi[c], scale_lo[c]);
  }
}

/* The step of value p of channel c, or NaN where the value must stay. */
static float tcc_qsgd_step(const tcc_qsgd_params *q, int32_t c, float g, float p) {
  if (q->dead != NULL && q->dead[c]) return NAN;
  float step = q->coef[c] * g;
  if (q->decay != 0.0f) step += q->decay * (p - (float)q->zp);
  return step;
}

void tcc_qsgd_s8(int8_t *param, const float *grad, int32_t size, const tcc_qsgd_params *q) {
  const float lo = (float)q->qmin - 1.0f, hi = (float)q->qmax + 1.0f;
  for (int32_t i = 0; i < size; ++i) {
    const int32_t c = (i / q->inner) % q->channels;
    const float p = (float)param[i];
    const float updated = p - tcc_qsgd_step(q, c, grad[i], p);
    if (updated != updated) continue; /* NaN: unchanged */
    /* Bound first (a no-op inside the range), then round half to even. */
    const float r = rintf(updated < lo ? lo : updated > hi ? hi : updated);
    param[i] = (int8_t)(r < (float)q->qmin ? q->qmin : r > (float)q->qmax ? q->qmax
                                                                          : (int32_t)r);
  }
}

void tcc_qsgd_s32(int32_t *param, const float *grad, int32_t size,
                  const tcc_qsgd_params *q) {
  for (int32_t i = 0; i < size; ++i) {
    const int32_t c = (i / q->inner) % q->channels;
    float t = -tcc_qsgd_step(q, c, grad[i], (float)param[i]); /* p' = p + t */
    if (t != t) continue;
    /* |t| beyond 2^32 saturates whatever p is. */
    t = t < -4294967296.0f ? -4294967296.0f : t > 4294967296.0f ? 4294967296.0f : t;
    const float whole = floorf(t);
    const float frac = t - whole; /* exact: t and floor(t) share their exponent range */
    int64_t v = (int64_t)param[i] + (int64_t)whole;
    /* Round p + t half to even: p + whole is an integer, frac in [0, 1). */
    if (frac > 0.5f || (frac == 0.5f && (v & 1) != 0)) v += 1;
    param[i] = (int32_t)(v < q->qmin ? q->qmin : v > q->qmax ? q->qmax : v);
  }
}

void tcc_q_conv2d_split_s8(const int8_t *x, const int8_t *w, const int8_t *w_rest,
                           int32_t split_axis, int32_t split, const int32_t *bias,
                           int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq) {
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

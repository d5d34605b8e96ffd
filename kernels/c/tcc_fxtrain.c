/* tcc_fxtrain.c - the int16 fixed-point backward kernels (see tcc_fxtrain.h). */
#include "tcc_fxtrain.h"

void tcc_fx_cross_entropy_grad_s8(const int8_t *logits, const int32_t *labels,
                                  int16_t *dx, int32_t n, int32_t classes,
                                  const int32_t *table, int32_t *shift) {
  for (int32_t r = 0; r < n; ++r) {
    const int8_t *q = logits + r * classes;
    int16_t *g = dx + r * classes;
    int32_t top = q[0];
    for (int32_t i = 1; i < classes; ++i) top = q[i] > top ? q[i] : top;
    int64_t total = 0;
    for (int32_t i = 0; i < classes; ++i) total += table[top - q[i]];
    for (int32_t i = 0; i < classes; ++i) {
      int64_t p = ((int64_t)table[top - q[i]] * 32768 + total / 2) / total;
      if (i == labels[r]) p -= 32768;
      if (n > 1) p = p < 0 ? -((-p + n / 2) / n) : (p + n / 2) / n;
      g[i] = tcc_fx_sat16(p);
    }
  }
  if (shift == NULL) return;
  int32_t top = 0, k = 0;
  for (int32_t i = 0; i < n * classes; ++i) {
    const int32_t v = dx[i] < 0 ? -dx[i] : dx[i];
    top = v > top ? v : top;
  }
  while (top && k < 15 && (top << (k + 1)) <= 32767) ++k;
  for (int32_t i = 0; i < n * classes; ++i) dx[i] = (int16_t)(dx[i] * (1 << k));
  *shift = k;
}

void tcc_fx_mask_grad_s16(const int16_t *dy, const int8_t *mask, int16_t *dx,
                          int32_t size) {
  for (int32_t i = 0; i < size; ++i)
    dx[i] = ((uint8_t)mask[i >> 3] >> (i & 7)) & 1 ? dy[i] : 0;
}

void tcc_fx_add_s16(const int16_t *a, const int16_t *b, int16_t *y, int32_t size) {
  for (int32_t i = 0; i < size; ++i) y[i] = tcc_fx_sat16((int32_t)a[i] + b[i]);
}

void tcc_fx_bias_grad_s16(const int16_t *dy, int32_t *db, int32_t n, int32_t c,
                          int32_t inner) {
  for (int32_t ch = 0; ch < c; ++ch) {
    int64_t sum = 0;
    for (int32_t b = 0; b < n; ++b) {
      const int16_t *row = dy + ((int64_t)b * c + ch) * inner;
      for (int32_t i = 0; i < inner; ++i) sum += row[i];
    }
    db[ch] = tcc_fx_sat32(sum);
  }
}

/* w[o][ci][kh][kw] of a whole or split weight with `cg` channels per group. */
static inline int32_t weight_at(const tcc_fx_weight *w, int32_t o, int32_t ci,
                                int32_t cg, int32_t taps, int32_t tap) {
  if (w->axis == 0) {
    if (o < w->k) return w->trained[((int64_t)o * cg + ci) * taps + tap];
    return w->rest[((int64_t)(o - w->k) * cg + ci) * taps + tap];
  }
  if (ci < w->k) return w->trained[((int64_t)o * w->k + ci) * taps + tap];
  return w->rest[((int64_t)o * (cg - w->k) + (ci - w->k)) * taps + tap];
}

/* 1x1, stride 1, no padding, one group, a whole weight [O][C]: per pixel, four input
 * channels at a time share each dy * m[o]. */
static void grad_input_pointwise(const int16_t *dy, const int8_t *w, const int32_t *m,
                                 int32_t shift, int16_t *dx, const tcc_conv2d_params *p) {
  const int32_t pixels = p->h * p->w, c_total = p->c, o_total = p->o;
  for (int32_t b = 0; b < p->n; ++b) {
    const int16_t *dyb = dy + (int64_t)b * o_total * pixels;
    int16_t *dxb = dx + (int64_t)b * c_total * pixels;
    for (int32_t i = 0; i < pixels; ++i) {
      int32_t c = 0;
      for (; c + 4 <= c_total; c += 4) {
        int64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *wc = w + c;
        const int16_t *d = dyb + i;
        for (int32_t o = 0; o < o_total; ++o, wc += c_total, d += pixels) {
          const int32_t t = *d * m[o];              /* < 2^30 */
          a0 += (int64_t)t * wc[0];
          a1 += (int64_t)t * wc[1];
          a2 += (int64_t)t * wc[2];
          a3 += (int64_t)t * wc[3];
        }
        dxb[(int64_t)c * pixels + i] = tcc_fx_sat16(tcc_fx_round_shift(a0, shift));
        dxb[(int64_t)(c + 1) * pixels + i] = tcc_fx_sat16(tcc_fx_round_shift(a1, shift));
        dxb[(int64_t)(c + 2) * pixels + i] = tcc_fx_sat16(tcc_fx_round_shift(a2, shift));
        dxb[(int64_t)(c + 3) * pixels + i] = tcc_fx_sat16(tcc_fx_round_shift(a3, shift));
      }
      for (; c < c_total; ++c) {
        int64_t a = 0;
        for (int32_t o = 0; o < o_total; ++o)
          a += (int64_t)(dyb[(int64_t)o * pixels + i] * m[o]) * w[(int64_t)o * c_total + c];
        dxb[(int64_t)c * pixels + i] = tcc_fx_sat16(tcc_fx_round_shift(a, shift));
      }
    }
  }
}

/* A depthwise conv (one channel per group, a whole weight): m[c] is one factor of the
 * channel's sum, so sum dy * w exactly in int32 (< 2^15 * 2^7 * taps, taps <= 2^8)
 * and multiply once: the same integer as summing (dy * m) * w. */
static void grad_input_depthwise(const int16_t *dy, const int8_t *w, const int32_t *m,
                                 int32_t shift, int16_t *dx, const tcc_conv2d_params *p) {
  for (int32_t b = 0; b < p->n; ++b)
    for (int32_t c = 0; c < p->c; ++c) {
      const int16_t *dyc = dy + ((int64_t)b * p->o + c) * p->oh * p->ow;
      const int8_t *wc = w + (int64_t)c * p->kh * p->kw;
      int16_t *dxc = dx + ((int64_t)b * p->c + c) * p->h * p->w;
      for (int32_t ih = 0; ih < p->h; ++ih)
        for (int32_t iw = 0; iw < p->w; ++iw) {
          int32_t acc = 0;
          for (int32_t ki = 0; ki < p->kh; ++ki) {
            const int32_t th = ih + p->pad_h - ki * p->dil_h;
            if (th < 0 || th % p->stride_h) continue;
            const int32_t oh = th / p->stride_h;
            if (oh >= p->oh) continue;
            const int16_t *row = dyc + oh * p->ow;
            const int8_t *wrow = wc + ki * p->kw;
            for (int32_t kj = 0; kj < p->kw; ++kj) {
              const int32_t tw = iw + p->pad_w - kj * p->dil_w;
              if (tw < 0 || tw % p->stride_w) continue;
              const int32_t ow = tw / p->stride_w;
              if (ow < p->ow) acc += row[ow] * wrow[kj];
            }
          }
          dxc[ih * p->w + iw] = tcc_fx_sat16(tcc_fx_round_shift((int64_t)acc * m[c], shift));
        }
    }
}

void tcc_fx_conv2d_grad_input_s16(const int16_t *dy, const tcc_fx_weight *w,
                                  const int32_t *m, int32_t shift, int16_t *dx,
                                  const tcc_conv2d_params *p) {
  const int32_t cg = p->c / p->groups, og = p->o / p->groups, taps = p->kh * p->kw;
  const int whole = w->rest == NULL;
  if (whole && p->groups == 1 && taps == 1 && p->stride_h == 1 && p->stride_w == 1 &&
      p->pad_h == 0 && p->pad_w == 0 && p->oh == p->h && p->ow == p->w) {
    grad_input_pointwise(dy, w->trained, m, shift, dx, p);
    return;
  }
  if (whole && cg == 1 && og == 1 && taps <= 256) {
    grad_input_depthwise(dy, w->trained, m, shift, dx, p);
    return;
  }
  for (int32_t b = 0; b < p->n; ++b)
    for (int32_t c = 0; c < p->c; ++c) {
      const int32_t group = c / cg, ci = c % cg;
      for (int32_t ih = 0; ih < p->h; ++ih)
        for (int32_t iw = 0; iw < p->w; ++iw) {
          int64_t acc = 0;
          for (int32_t ki = 0; ki < p->kh; ++ki) {
            const int32_t th = ih + p->pad_h - ki * p->dil_h;
            if (th < 0 || th % p->stride_h) continue;
            const int32_t oh = th / p->stride_h;
            if (oh >= p->oh) continue;
            for (int32_t kj = 0; kj < p->kw; ++kj) {
              const int32_t tw = iw + p->pad_w - kj * p->dil_w;
              if (tw < 0 || tw % p->stride_w) continue;
              const int32_t ow = tw / p->stride_w;
              if (ow >= p->ow) continue;
              for (int32_t oo = 0; oo < og; ++oo) {
                const int32_t o = group * og + oo;
                /* dy * m < 2^30: exact in int32; times w in int64. */
                const int32_t scaled =
                    dy[(((int64_t)b * p->o + o) * p->oh + oh) * p->ow + ow] * m[o];
                acc += (int64_t)scaled * weight_at(w, o, ci, cg, taps, ki * p->kw + kj);
              }
            }
          }
          dx[(((int64_t)b * p->c + c) * p->h + ih) * p->w + iw] =
              tcc_fx_sat16(tcc_fx_round_shift(acc, shift));
        }
    }
}

void tcc_fx_avg_pool2d_grad_s16(const int16_t *dy, int16_t *dx,
                                const tcc_pool2d_params *p, int32_t k, int32_t q) {
  for (int32_t bc = 0; bc < p->n * p->c; ++bc)
    for (int32_t ih = 0; ih < p->h; ++ih)
      for (int32_t iw = 0; iw < p->w; ++iw) {
        int64_t sum = 0;
        for (int32_t oh = 0; oh < p->oh; ++oh) {
          const int32_t top = oh * p->stride_h - p->pad_h;
          if (ih < top || ih >= top + p->kh) continue;
          for (int32_t ow = 0; ow < p->ow; ++ow) {
            const int32_t left = ow * p->stride_w - p->pad_w;
            if (iw < left || iw >= left + p->kw) continue;
            sum += dy[((int64_t)bc * p->oh + oh) * p->ow + ow];
          }
        }
        dx[((int64_t)bc * p->h + ih) * p->w + iw] = tcc_fx_sat16(tcc_fx_round_shift(sum * k, q));
      }
}

/* The new value of one parameter code v from its integer gradient g. */
static inline int64_t updated(int64_t v, int64_t g, int32_t c, const tcc_fx_update *u) {
  if (u->k[c] == 0) return v;                      /* a dead channel */
  int64_t step = tcc_fx_round_shift(g * u->k[c], u->q[c] + u->shift);
  if (u->kd) step += tcc_fx_round_shift((v - u->zero_point) * u->kd, u->qd);
  v -= step;
  return v < u->qmin ? u->qmin : v > u->qmax ? u->qmax : v;
}

void tcc_fx_qsgd_s32(int32_t *b, const int32_t *g, int32_t size, int32_t inner,
                     const tcc_fx_update *u) {
  for (int32_t i = 0; i < size; ++i) b[i] = (int32_t)updated(b[i], g[i], i / inner, u);
}

/* Sum of dy[i] * x[i] over `count` values, exact: int32 partial sums of 256 products
 * (each below 2^15 * 2^7) added into int64. */
static int64_t dot_s16_s8(const int16_t *dy, const int8_t *x, int32_t count) {
  int64_t total = 0;
  for (int32_t start = 0; start < count; start += 256) {
    const int32_t end = count - start < 256 ? count : start + 256;
    int32_t partial = 0;
    for (int32_t i = start; i < end; ++i) partial += dy[i] * x[i];
    total += partial;
  }
  return total;
}

/* The weight gradient of a 1x1, stride-1, unpadded, one-group conv:
 * G[o][c] = sum_i dy[o][i] * x[c][i] - zx * sum_i dy[o][i], over batch and pixels. */
static void qsgd_pointwise(int8_t *w, const int16_t *dy, const int8_t *x, int32_t zx,
                           int32_t wc, const tcc_conv2d_params *p, const tcc_fx_update *u) {
  const int32_t pixels = p->h * p->w;
  for (int32_t o = 0; o < p->o; ++o) {
    int64_t dy_sum = 0;
    for (int32_t b = 0; b < p->n; ++b) {
      const int16_t *d = dy + ((int64_t)b * p->o + o) * pixels;
      for (int32_t i = 0; i < pixels; ++i) dy_sum += d[i];
    }
    for (int32_t c = 0; c < p->c; ++c) {
      int64_t g = -(int64_t)zx * dy_sum;
      for (int32_t b = 0; b < p->n; ++b)
        g += dot_s16_s8(dy + ((int64_t)b * p->o + o) * pixels,
                        x + ((int64_t)b * p->c + c) * pixels, pixels);
      int8_t *v = w + (int64_t)o * wc + c;
      *v = (int8_t)updated(*v, g, o, u);
    }
  }
}

void tcc_fx_conv2d_qsgd_s8(int8_t *w, const int16_t *dy, const int8_t *x, int32_t zx,
                           int32_t wc, const tcc_conv2d_params *p,
                           const tcc_fx_update *u) {
  const int32_t cg = p->c / p->groups, og = p->o / p->groups;
  if (p->groups == 1 && p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 &&
      p->pad_h == 0 && p->pad_w == 0 && p->oh == p->h && p->ow == p->w) {
    qsgd_pointwise(w, dy, x, zx, wc, p, u);
    return;
  }
  for (int32_t o = 0; o < p->o; ++o) {
    const int32_t group = o / og;
    for (int32_t ci = 0; ci < cg; ++ci)
      for (int32_t ki = 0; ki < p->kh; ++ki)
        for (int32_t kj = 0; kj < p->kw; ++kj) {
          int64_t g = 0;
          for (int32_t b = 0; b < p->n; ++b) {
            const int8_t *xc = x + ((int64_t)b * p->c + group * cg + ci) * p->h * p->w;
            const int16_t *dyo = dy + ((int64_t)b * p->o + o) * p->oh * p->ow;
            for (int32_t oh = 0; oh < p->oh; ++oh) {
              const int32_t ih = oh * p->stride_h - p->pad_h + ki * p->dil_h;
              if (ih < 0 || ih >= p->h) continue;
              for (int32_t ow = 0; ow < p->ow; ++ow) {
                const int32_t iw = ow * p->stride_w - p->pad_w + kj * p->dil_w;
                if (iw < 0 || iw >= p->w) continue;
                g += (int32_t)dyo[oh * p->ow + ow] * (xc[ih * p->w + iw] - zx);
              }
            }
          }
          int8_t *v = w + (((int64_t)o * wc + ci) * p->kh + ki) * p->kw + kj;
          *v = (int8_t)updated(*v, g, o, u);
        }
  }
}

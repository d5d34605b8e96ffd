/*
 * tcc_kernels.c - straightforward fp32 kernels (see tcc_kernels.h).
 *
 * Correctness-first loops: each output element is computed by one float
 * accumulator that starts at 0.0f and adds terms in increasing index order.
 */
#include "tcc_kernels.h"

#include <math.h>
#include <string.h>

/* A plain float weight tensor of `out` output channels. */
static tcc_weight tcc_plain_weight(const float *w, int32_t out) {
  tcc_weight d = {w, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, out};
  return d;
}

void tcc_linear_f32(const float *x, const float *w, const float *b, float *y,
                    int32_t n, int32_t k, int32_t m) {
  const tcc_weight d = tcc_plain_weight(w, m);
  tcc_linear_w_f32(x, &d, b, y, n, k, m);
}

void tcc_linear_grad_input_f32(const float *dy, const float *w, float *dx,
                               int32_t n, int32_t k, int32_t m) {
  const tcc_weight d = tcc_plain_weight(w, m);
  tcc_linear_grad_input_w_f32(dy, &d, dx, n, k, m);
}

void tcc_conv2d_f32(const float *x, const float *w, const float *b, float *y,
                    const tcc_conv2d_params *p) {
  const tcc_weight d = tcc_plain_weight(w, p->o);
  tcc_conv2d_w_f32(x, &d, b, y, p);
}

void tcc_conv2d_grad_input_f32(const float *dy, const float *w, float *dx,
                               const tcc_conv2d_params *p) {
  const tcc_weight d = tcc_plain_weight(w, p->o);
  tcc_conv2d_grad_input_w_f32(dy, &d, dx, p);
}

/* Weight rows of linear layers are staged in chunks of this many values. */
#define TCC_ROW_CHUNK 256

/* Elements [i0, i0 + len) of row j of a [m, k] weight: a pointer into the weight when
   the row is stored whole in f32, else gathered (dequantized, or from the trained and
   frozen parts) into buf. */
static const float *tcc_weight_row_chunk(const tcc_weight *w, int32_t j, int32_t i0,
                                         int32_t len, int32_t k, float *buf) {
  if (w->s8 == NULL && (w->split_axis == 0 || w->split == k))
    return tcc_weight_taps(w, j, 0, 1, k, buf) + i0;
  for (int32_t i = 0; i < len; ++i) {
    float one;
    buf[i] = *tcc_weight_taps(w, j, i0 + i, k, 1, &one);
  }
  return buf;
}

void tcc_linear_w_f32(const float *x, const tcc_weight *w, const float *b, float *y,
                      int32_t n, int32_t k, int32_t m) {
  float buf[TCC_ROW_CHUNK];
  for (int32_t j = 0; j < m; ++j) {
    for (int32_t r = 0; r < n; ++r) y[r * m + j] = 0.0f;
    /* Chunks of the row in increasing k: every sum keeps its order. */
    for (int32_t i0 = 0; i0 < k; i0 += TCC_ROW_CHUNK) {
      const int32_t len = k - i0 < TCC_ROW_CHUNK ? k - i0 : TCC_ROW_CHUNK;
      const float *row = tcc_weight_row_chunk(w, j, i0, len, k, buf);
      for (int32_t r = 0; r < n; ++r) {
        float acc = y[r * m + j];
        const float *xr = x + r * k + i0;
        for (int32_t i = 0; i < len; ++i) acc += xr[i] * row[i];
        y[r * m + j] = acc;
      }
    }
    if (b != NULL)
      for (int32_t r = 0; r < n; ++r) y[r * m + j] += b[j];
  }
}

void tcc_linear_grad_input_w_f32(const float *dy, const tcc_weight *w, float *dx,
                                 int32_t n, int32_t k, int32_t m) {
  float buf[TCC_ROW_CHUNK];
  for (int32_t i = 0; i < n * k; ++i) dx[i] = 0.0f;
  /* dx[r,i] accumulates over increasing j: one weight row at a time. */
  for (int32_t j = 0; j < m; ++j) {
    for (int32_t i0 = 0; i0 < k; i0 += TCC_ROW_CHUNK) {
      const int32_t len = k - i0 < TCC_ROW_CHUNK ? k - i0 : TCC_ROW_CHUNK;
      const float *row = tcc_weight_row_chunk(w, j, i0, len, k, buf);
      for (int32_t r = 0; r < n; ++r) {
        const float g = dy[r * m + j];
        float *dxr = dx + r * k + i0;
        for (int32_t i = 0; i < len; ++i) dxr[i] += g * row[i];
      }
    }
  }
}

void tcc_linear_grad_weight_f32(const float *dy, const float *x, float *dw,
                                int32_t n, int32_t k, int32_t m) {
  for (int32_t j = 0; j < m; ++j) {
    for (int32_t i = 0; i < k; ++i) {
      float acc = 0.0f;
      for (int32_t r = 0; r < n; ++r) acc += dy[r * m + j] * x[r * k + i];
      dw[j * k + i] = acc;
    }
  }
}

void tcc_bias_grad_f32(const float *dy, float *db, int32_t n, int32_t c,
                       int32_t inner) {
  for (int32_t ch = 0; ch < c; ++ch) {
    float acc = 0.0f;
    for (int32_t r = 0; r < n; ++r) {
      const float *row = dy + (r * c + ch) * inner;
      for (int32_t i = 0; i < inner; ++i) acc += row[i];
    }
    db[ch] = acc;
  }
}

/* Output rows [*lo, *hi) whose input row i * stride - pad + tap lies in
 * [0, size). */
static void tcc_valid_range(int32_t size, int32_t out, int32_t stride, int32_t pad,
                            int32_t tap, int32_t *lo, int32_t *hi) {
  const int32_t t = pad - tap; /* i * stride >= t */
  *lo = t <= 0 ? 0 : (t + stride - 1) / stride;
  const int32_t last = size - 1 + pad - tap; /* i * stride <= last */
  *hi = last < 0 ? 0 : last / stride + 1;
  if (*hi > out) *hi = out;
  if (*lo > *hi) *lo = *hi;
}

void tcc_conv2d_w_f32(const float *x, const tcc_weight *w, const float *b, float *y,
                      const tcc_conv2d_params *p) {
  const int32_t cg = p->c / p->groups; /* input channels per group */
  const int32_t og = p->o / p->groups; /* output channels per group */
  const int32_t taps = p->kh * p->kw;
  float buf[TCC_MAX_TAPS];
  for (int32_t n = 0; n < p->n; ++n) {
    for (int32_t oc = 0; oc < p->o; ++oc) {
      const int32_t g = oc / og;
      float *yc = y + (n * p->o + oc) * p->oh * p->ow;
      for (int32_t i = 0; i < p->oh * p->ow; ++i) yc[i] = 0.0f;
      /* Each output sums its terms in increasing (ci, ky, kx): accumulating
       * in memory tap by tap keeps that order. */
      for (int32_t ci = 0; ci < cg; ++ci) {
        const float *xc = x + (n * p->c + g * cg + ci) * p->h * p->w;
        const float *wc = tcc_weight_taps(w, oc, ci, cg, taps, buf);
        for (int32_t ky = 0; ky < p->kh; ++ky) {
          int32_t i0, i1;
          tcc_valid_range(p->h, p->oh, p->stride_h, p->pad_h, ky * p->dil_h, &i0, &i1);
          for (int32_t kx = 0; kx < p->kw; ++kx) {
            int32_t j0, j1;
            tcc_valid_range(p->w, p->ow, p->stride_w, p->pad_w, kx * p->dil_w, &j0, &j1);
            const float wv = wc[ky * p->kw + kx];
            for (int32_t i = i0; i < i1; ++i) {
              const float *xr = xc + (i * p->stride_h - p->pad_h + ky * p->dil_h) * p->w +
                                kx * p->dil_w - p->pad_w;
              float *yr = yc + i * p->ow;
              for (int32_t j = j0; j < j1; ++j) yr[j] += xr[j * p->stride_w] * wv;
            }
          }
        }
      }
      if (b != NULL)
        for (int32_t i = 0; i < p->oh * p->ow; ++i) yc[i] += b[oc];
    }
  }
}

/* ------------------------------------------------- fast conv gradient paths */
/* Register tiles of TCC_TILE x TCC_TILE outputs: each output keeps one float
 * accumulator in a register and adds its terms in the reference order, so
 * results equal the plain loops bit for bit. */
#define TCC_TILE TCC_GRAD_WEIGHT_TILE /* tcc_kernels.h */
/* Output channels of a weight block staged as float (TCC_TILE columns each). */
#define TCC_OC_CHUNK 256
#if defined(__GNUC__)
#define TCC_ALWAYS_INLINE static inline __attribute__((always_inline))
#define TCC_NOINLINE __attribute__((noinline))
#define TCC_UNROLL4 _Pragma("GCC unroll 4")
#else
#define TCC_ALWAYS_INLINE static inline
#define TCC_NOINLINE
#define TCC_UNROLL4
#endif

/* out[r * TCC_TILE + j] = weight (oc0 + r, c0 + j) of a [out, in] (1x1) weight
 * for r < count, j < cb, dequantized as tcc_weight_taps does. */
static void tcc_weight_block(const tcc_weight *w, int32_t in, int32_t oc0, int32_t count,
                             int32_t c0, int32_t cb, float *out) {
  for (int32_t r = 0; r < count; ++r) {
    const int32_t o = oc0 + r;
    float *row = out + r * TCC_TILE;
    int32_t index, first;
    if (w->split_axis == 0) {
      first = o < w->split;
      index = (first ? o : o - w->split) * in + c0;
    } else if (c0 + cb <= w->split) {
      first = 1;
      index = o * w->split + c0;
    } else if (c0 >= w->split) {
      first = 0;
      index = o * (in - w->split) + c0 - w->split;
    } else { /* a block across the split of the input channels */
      for (int32_t j = 0; j < cb; ++j) {
        float one;
        row[j] = *tcc_weight_taps(w, o, c0 + j, in, 1, &one);
      }
      continue;
    }
    if (w->s8 == NULL) {
      const float *src = (first ? w->f32 : w->rest_f32) + index;
      for (int32_t j = 0; j < cb; ++j) row[j] = src[j];
    } else {
      const int8_t *q = (first ? w->s8 : w->rest_s8) + index;
      const int32_t sc = w->scale_per_channel ? o : 0;
      const float hi = w->scale_hi[sc], lo = w->scale_lo[sc];
      for (int32_t j = 0; j < cb; ++j) row[j] = tcc_dequantize_one(q[j], w->zero_point, hi, lo);
    }
  }
}

/* dx tile: y[j * hw + q] = (accumulate ? y[j * hw + q] : 0) + sum_{r < count}
 * wb[r * TCC_TILE + j] * dy[r * hw + q], r increasing; j < cb, q < pb. */
TCC_ALWAYS_INLINE void tcc_grad_input_tile(const float *wb, const float *dy, int32_t hw,
                                           int32_t count, float *y, int32_t accumulate,
                                           int32_t cb, int32_t pb) {
  float acc[TCC_TILE][TCC_TILE] = {{0.0f}};
  TCC_UNROLL4
  for (int32_t j = 0; j < cb; ++j)
    TCC_UNROLL4
    for (int32_t q = 0; q < pb; ++q) acc[j][q] = accumulate ? y[j * hw + q] : 0.0f;
  for (int32_t r = 0; r < count; ++r) {
    const float *wr = wb + r * TCC_TILE, *dr = dy + r * hw;
    TCC_UNROLL4
    for (int32_t j = 0; j < cb; ++j)
      TCC_UNROLL4
      for (int32_t q = 0; q < pb; ++q) acc[j][q] += wr[j] * dr[q];
  }
  TCC_UNROLL4
  for (int32_t j = 0; j < cb; ++j)
    TCC_UNROLL4
    for (int32_t q = 0; q < pb; ++q) y[j * hw + q] = acc[j][q];
}

/* The full 4 x 4 tile, out of line: its loop keeps every pointer in a register. */
static TCC_NOINLINE void tcc_grad_input_tile44(const float *wb, const float *dy, int32_t hw,
                                               int32_t count, float *y, int32_t accumulate) {
  tcc_grad_input_tile(wb, dy, hw, count, y, accumulate, TCC_TILE, TCC_TILE);
}

/* Pointwise (1x1, stride 1, no padding, groups 1) input gradient:
 * dx[n,c,p] = sum_oc dy[n,oc,p] * w[oc,c] over increasing oc. Weight columns
 * are staged TCC_TILE at a time for TCC_OC_CHUNK output channels (partial sums
 * wait in dx between chunks), then 4 x 4 tiles of (c, p) run over them. */
static void tcc_grad_input_1x1_f32(const float *dy, const tcc_weight *w, float *dx,
                                   int32_t n, int32_t o, int32_t c, int32_t hw) {
  float wb[TCC_OC_CHUNK * TCC_TILE];
  for (int32_t b = 0; b < n; ++b) {
    for (int32_t c0 = 0; c0 < c; c0 += TCC_TILE) {
      const int32_t cb = c - c0 < TCC_TILE ? c - c0 : TCC_TILE;
      for (int32_t oc0 = 0; oc0 < o; oc0 += TCC_OC_CHUNK) {
        const int32_t count = o - oc0 < TCC_OC_CHUNK ? o - oc0 : TCC_OC_CHUNK;
        tcc_weight_block(w, c, oc0, count, c0, cb, wb);
        const float *dyb = dy + (b * o + oc0) * hw;
        float *dxb = dx + (b * c + c0) * hw;
        int32_t p = 0;
        if (cb == TCC_TILE)
          for (; p + TCC_TILE <= hw; p += TCC_TILE)
            tcc_grad_input_tile44(wb, dyb + p, hw, count, dxb + p, oc0 > 0);
        for (; p < hw; ++p)
          tcc_grad_input_tile(wb, dyb + p, hw, count, dxb + p, oc0 > 0, cb, 1);
      }
    }
  }
}

/* dw tile: y[j * c + q] = sum_{b < n, r < hw} dy[b * os + j * hw + r]
 * * x[b * cs + q * hw + r], (b, r) increasing; j < ob, q < cb. */
TCC_ALWAYS_INLINE void tcc_grad_weight_tile(const float *dy, const float *x, int32_t n,
                                            int32_t os, int32_t cs, int32_t hw, float *y,
                                            int32_t c, int32_t ob, int32_t cb) {
  float acc[TCC_TILE][TCC_TILE] = {{0.0f}};
  TCC_UNROLL4
  for (int32_t j = 0; j < ob; ++j)
    TCC_UNROLL4
    for (int32_t q = 0; q < cb; ++q) acc[j][q] = 0.0f;
  for (int32_t b = 0; b < n; ++b) {
    const float *d = dy + b * os, *v = x + b * cs;
    for (int32_t r = 0; r < hw; ++r)
      TCC_UNROLL4
      for (int32_t j = 0; j < ob; ++j)
        TCC_UNROLL4
        for (int32_t q = 0; q < cb; ++q) acc[j][q] += d[j * hw + r] * v[q * hw + r];
  }
  TCC_UNROLL4
  for (int32_t j = 0; j < ob; ++j)
    TCC_UNROLL4
    for (int32_t q = 0; q < cb; ++q) y[j * c + q] = acc[j][q];
}

static TCC_NOINLINE void tcc_grad_weight_tile44(const float *dy, const float *x, int32_t n,
                                                int32_t os, int32_t cs, int32_t hw, float *y,
                                                int32_t c) {
  tcc_grad_weight_tile(dy, x, n, os, cs, hw, y, c, TCC_TILE, TCC_TILE);
}

/* The x a weight gradient reads: f32 values, or int8 ones read through `table`
 * (table[q + 128] is q as quant.dcast dequantizes it), the channels one block of sums
 * reads dequantized into `scratch` first. */
typedef struct {
  const float *f32;
  const int8_t *s8;
  const float *table;
  float *scratch;
} tcc_grad_x;

/* Channels [c0, c0 + count) of every image of x (n images of c channels of hw
 * values) as floats; *image: the distance between two images' channel c0. */
static const float *tcc_grad_x_channels(const tcc_grad_x *x, int32_t n, int32_t c,
                                        int32_t hw, int32_t c0, int32_t count,
                                        int32_t *image) {
  if (x->s8 == NULL) {
    *image = c * hw;
    return x->f32 + c0 * hw;
  }
  for (int32_t b = 0; b < n; ++b)
    for (int32_t k = 0; k < count; ++k) {
      const int8_t *src = x->s8 + (b * c + c0 + k) * hw;
      float *dst = x->scratch + (b * count + k) * hw;
      for (int32_t i = 0; i < hw; ++i) dst[i] = x->table[src[i] + 128];
    }
  *image = count * hw;
  return x->scratch;
}

/* Pointwise (1x1, stride 1, no padding, groups 1) weight gradient:
 * dw[oc,c] = sum_{n,p} dy[n,oc,p] * x[n,c,p] over increasing (n, p), in 4 x 4
 * tiles of (oc, c), a tile of x channels at a time. */
static void tcc_grad_weight_1x1_f32(const float *dy, const tcc_grad_x *x, float *dw,
                                    int32_t n, int32_t o, int32_t c, int32_t hw,
                                    const tcc_dw_sink *sink) {
  float t[TCC_TILE * TCC_TILE];
  for (int32_t c0 = 0; c0 < c; c0 += TCC_TILE) {
    const int32_t cb = c - c0 < TCC_TILE ? c - c0 : TCC_TILE;
    int32_t image;
    const float *v = tcc_grad_x_channels(x, n, c, hw, c0, cb, &image);
    for (int32_t oc0 = 0; oc0 < o; oc0 += TCC_TILE) {
      const int32_t ob = o - oc0 < TCC_TILE ? o - oc0 : TCC_TILE;
      const float *d = dy + oc0 * hw;
      /* Into dw, or into t for the sink, one row of cb values per output channel. */
      float *y = sink == NULL ? dw + oc0 * c + c0 : t;
      const int32_t stride = sink == NULL ? c : TCC_TILE;
      if (ob == TCC_TILE && cb == TCC_TILE)
        tcc_grad_weight_tile44(d, v, n, o * hw, image, hw, y, stride);
      else
        tcc_grad_weight_tile(d, v, n, o * hw, image, hw, y, stride, ob, cb);
      if (sink != NULL) sink->put(sink, t, TCC_TILE, oc0 * c + c0, c, ob, cb);
    }
  }
}

/* Largest input width of the depthwise input-gradient path (its tap tables). */
#define TCC_DW_MAX_W 256

/* Depthwise (groups == C == O, dilation 1) input gradient: each dx[c,u,v]
 * gathers its valid terms dy[c,i,j] * w[c,a,b] (u = i*sh - ph + a, likewise v)
 * in increasing (a, b) into one register accumulator. Per column v the valid
 * b are first_b[v] + k*sw (k < nb[v]) with j = first_j[v] - k. */
static void tcc_depthwise_grad_input_f32(const float *dy, const tcc_weight *w, float *dx,
                                         const tcc_conv2d_params *p) {
  int16_t first_b[TCC_DW_MAX_W], first_j[TCC_DW_MAX_W], nb[TCC_DW_MAX_W];
  float buf[TCC_MAX_TAPS];
  for (int32_t v = 0; v < p->w; ++v) {
    /* b = v + pw - j * sw in [0, kw) with j in [0, ow): the smallest b has the
     * largest j. */
    int32_t j = (v + p->pad_w) / p->stride_w;
    if (j > p->ow - 1) j = p->ow - 1;
    const int32_t b = v + p->pad_w - j * p->stride_w;
    first_b[v] = (int16_t)b;
    first_j[v] = (int16_t)j;
    /* b + k*sw < kw and j - k >= 0 */
    int32_t count = b < p->kw ? (p->kw - 1 - b) / p->stride_w + 1 : 0;
    if (count > j + 1) count = j + 1;
    nb[v] = (int16_t)(b >= 0 ? count : 0);
  }
  for (int32_t n = 0; n < p->n; ++n) {
    for (int32_t c = 0; c < p->c; ++c) {
      const float *dyc = dy + (n * p->o + c) * p->oh * p->ow;
      const float *wc = tcc_weight_taps(w, c, 0, 1, p->kh * p->kw, buf);
      float *dxc = dx + (n * p->c + c) * p->h * p->w;
      for (int32_t u = 0; u < p->h; ++u) {
        int32_t i = (u + p->pad_h) / p->stride_h;
        if (i > p->oh - 1) i = p->oh - 1;
        const int32_t a = u + p->pad_h - i * p->stride_h;
        int32_t na = a < p->kh ? (p->kh - 1 - a) / p->stride_h + 1 : 0;
        if (na > i + 1) na = i + 1;
        if (a < 0) na = 0;
        float *dxr = dxc + u * p->w;
        for (int32_t v = 0; v < p->w; ++v) {
          float acc = 0.0f;
          const float *wa = wc + a * p->kw + first_b[v];
          const float *da = dyc + i * p->ow + first_j[v];
          for (int32_t ka = 0; ka < na; ++ka) {
            for (int32_t kb = 0; kb < nb[v]; ++kb) acc += da[-kb] * wa[kb * p->stride_w];
            wa += p->stride_h * p->kw;
            da -= p->ow;
          }
          dxr[v] = acc;
        }
      }
    }
  }
}

/* Floats of the zero-padded channel of the stride-1 depthwise path (stack). */
#define TCC_DW_PAD_MAX 1024

/* One channel of a stride-1 KxK depthwise input gradient over d, dy zero padded
 * by K-1-pad on each side (dw columns): dx[u,v] = sum over increasing (a, b) of
 * d[u+K-1-a][v+K-1-b] * w[a*K+b]. The padding terms add exact zeros to a sum
 * that starts at +0, so the result equals the sum of the valid terms alone. */
TCC_ALWAYS_INLINE void tcc_dw_grad_input_k(const float *d, int32_t dw, const float *wt,
                                           float *dx, int32_t h, int32_t w, int32_t k) {
  for (int32_t u = 0; u < h; ++u) {
    for (int32_t v = 0; v < w; ++v) {
      float acc = 0.0f;
      const float *base = d + (u + k - 1) * dw + v + k - 1;
      _Pragma("GCC unroll 7")
      for (int32_t a = 0; a < k; ++a) {
        const float *row = base - a * dw;
        _Pragma("GCC unroll 7")
        for (int32_t b = 0; b < k; ++b) acc += row[-b] * wt[a * k + b];
      }
      dx[u * w + v] = acc;
    }
  }
}

/* Stride-1 depthwise input gradient with square 3x3, 5x5 or 7x7 kernels and
 * small channels: each channel copied into a zero-padded buffer, then
 * tcc_dw_grad_input_k with the kernel size a constant. Returns 0 if the shape
 * is not one of these. */
static int32_t tcc_depthwise_grad_input_s1_f32(const float *dy, const tcc_weight *w,
                                               float *dx, const tcc_conv2d_params *p) {
  const int32_t k = p->kh, e = k - 1 - p->pad_h;
  const int32_t dh = p->h + k - 1, dw = p->w + k - 1;
  if (p->kw != k || (k != 3 && k != 5 && k != 7) || p->stride_h != 1 || p->stride_w != 1 ||
      p->pad_w != p->pad_h || e < 0 || dh * dw > TCC_DW_PAD_MAX ||
      p->oh + 2 * e != dh || p->ow + 2 * e != dw)
    return 0;
  float d[TCC_DW_PAD_MAX], buf[49];
  for (int32_t i = 0; i < dh * dw; ++i) d[i] = 0.0f;
  for (int32_t n = 0; n < p->n; ++n) {
    for (int32_t c = 0; c < p->c; ++c) {
      const float *dyc = dy + (n * p->o + c) * p->oh * p->ow;
      for (int32_t i = 0; i < p->oh; ++i)
        for (int32_t j = 0; j < p->ow; ++j) d[(i + e) * dw + j + e] = dyc[i * p->ow + j];
      const float *wt = tcc_weight_taps(w, c, 0, 1, k * k, buf);
      float *dxc = dx + (n * p->c + c) * p->h * p->w;
      if (k == 3)
        tcc_dw_grad_input_k(d, dw, wt, dxc, p->h, p->w, 3);
      else if (k == 5)
        tcc_dw_grad_input_k(d, dw, wt, dxc, p->h, p->w, 5);
      else
        tcc_dw_grad_input_k(d, dw, wt, dxc, p->h, p->w, 7);
    }
  }
  return 1;
}

void tcc_depthwise_grad_input_channel_f32(const float *dy, const tcc_weight *w, int32_t c,
                                          float *dx, const tcc_conv2d_params *p) {
  const int32_t taps = p->kh * p->kw, sc = w->scale_per_channel ? c : 0;
  tcc_weight one = *w; /* channel c alone: its taps, its scale */
  if (one.s8 != NULL) one.s8 += c * taps; else one.f32 += c * taps;
  if (one.scale_hi != NULL) { one.scale_hi += sc; one.scale_lo += sc; }
  one.split_axis = 0;
  one.split = 1;
  tcc_conv2d_params q = *p;
  q.c = q.o = q.groups = 1;
  /* The paths of tcc_conv2d_grad_input_w_f32 for a depthwise conv, on one channel. */
  if (p->dil_h == 1 && p->dil_w == 1) {
    if (tcc_depthwise_grad_input_s1_f32(dy, &one, dx, &q)) return;
    if (p->w <= TCC_DW_MAX_W && taps <= TCC_MAX_TAPS) {
      tcc_depthwise_grad_input_f32(dy, &one, dx, &q);
      return;
    }
  }
  tcc_conv2d_grad_input_w_f32(dy, &one, dx, &q);
}

/* A 1x1 conv that is a matrix product per image: stride 1, no padding, groups 1. */
static int32_t tcc_is_pointwise(const tcc_conv2d_params *p) {
  return p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
         p->pad_w == 0 && p->groups == 1;
}

void tcc_conv2d_grad_input_w_f32(const float *dy, const tcc_weight *w, float *dx,
                                 const tcc_conv2d_params *p) {
  if (tcc_is_pointwise(p)) {
    tcc_grad_input_1x1_f32(dy, w, dx, p->n, p->o, p->c, p->h * p->w);
    return;
  }
  if (p->groups == p->c && p->o == p->c && p->c > 1 && p->dil_h == 1 && p->dil_w == 1) {
    if (tcc_depthwise_grad_input_s1_f32(dy, w, dx, p)) return;
    if (p->w <= TCC_DW_MAX_W && p->kh * p->kw <= TCC_MAX_TAPS) {
      tcc_depthwise_grad_input_f32(dy, w, dx, p);
      return;
    }
  }
  const int32_t cg = p->c / p->groups;
  const int32_t og = p->o / p->groups;
  const int32_t taps = p->kh * p->kw;
  float buf[TCC_MAX_TAPS];
  for (int32_t n = 0; n < p->n; ++n) {
    for (int32_t c = 0; c < p->c; ++c) {
      const int32_t g = c / cg;
      const int32_t ci = c - g * cg;
      float *dxc = dx + (n * p->c + c) * p->h * p->w;
      for (int32_t i = 0; i < p->h * p->w; ++i) dxc[i] = 0.0f;
      /* dx[u,v] sums dy[i,j] * w[ky,kx] over u = i*sh - ph + ky*dh (likewise
       * v) in increasing (oc, ky, kx), scattered tap by tap. */
      for (int32_t oc = g * og; oc < (g + 1) * og; ++oc) {
        const float *dyc = dy + (n * p->o + oc) * p->oh * p->ow;
        const float *wc = tcc_weight_taps(w, oc, ci, cg, taps, buf);
        for (int32_t ky = 0; ky < p->kh; ++ky) {
          int32_t i0, i1;
          tcc_valid_range(p->h, p->oh, p->stride_h, p->pad_h, ky * p->dil_h, &i0, &i1);
          for (int32_t kx = 0; kx < p->kw; ++kx) {
            int32_t j0, j1;
            tcc_valid_range(p->w, p->ow, p->stride_w, p->pad_w, kx * p->dil_w, &j0, &j1);
            const float wv = wc[ky * p->kw + kx];
            for (int32_t i = i0; i < i1; ++i) {
              float *dxr = dxc + (i * p->stride_h - p->pad_h + ky * p->dil_h) * p->w +
                           kx * p->dil_w - p->pad_w;
              const float *dyr = dyc + i * p->ow;
              for (int32_t j = j0; j < j1; ++j) dxr[j * p->stride_w] += dyr[j] * wv;
            }
          }
        }
      }
    }
  }
}

void tcc_conv2d_grad_weight_f32(const float *dy, const float *x, float *dw,
                                const tcc_conv2d_params *p) {
  tcc_conv2d_grad_weight_to(dy, x, dw, p, NULL);
}

/* The taps of weight (oc, ci) (group g = oc / (O / G)) into dwc: x_channel holds x's
 * channel g * C/G + ci of image 0, image n at x_channel + n * image. */
static void tcc_grad_weight_taps(const float *dy, const float *x_channel, int32_t image,
                                 int32_t oc, const tcc_conv2d_params *p, float *dwc) {
  for (int32_t ky = 0; ky < p->kh; ++ky) {
    int32_t i0, i1;
    tcc_valid_range(p->h, p->oh, p->stride_h, p->pad_h, ky * p->dil_h, &i0, &i1);
    for (int32_t kx = 0; kx < p->kw; ++kx) {
      int32_t j0, j1;
      tcc_valid_range(p->w, p->ow, p->stride_w, p->pad_w, kx * p->dil_w, &j0, &j1);
      float acc = 0.0f;
      for (int32_t n = 0; n < p->n; ++n) {
        const float *dyc = dy + (n * p->o + oc) * p->oh * p->ow;
        const float *xc = x_channel + n * image;
        for (int32_t i = i0; i < i1; ++i) {
          const float *xr = xc + (i * p->stride_h - p->pad_h + ky * p->dil_h) * p->w +
                            kx * p->dil_w - p->pad_w;
          const float *dyr = dyc + i * p->ow;
          for (int32_t j = j0; j < j1; ++j) acc += dyr[j] * xr[j * p->stride_w];
        }
      }
      dwc[ky * p->kw + kx] = acc;
    }
  }
}

/* The weight gradient of x into dw (sink NULL) or the sink, a block of x channels
 * at a time (tcc_conv2d_grad_weight_to). */
static void tcc_grad_weight(const float *dy, const tcc_grad_x *x, float *dw,
                           const tcc_conv2d_params *p, const tcc_dw_sink *sink) {
  const int32_t hw = p->h * p->w;
  if (tcc_is_pointwise(p)) {
    tcc_grad_weight_1x1_f32(dy, x, dw, p->n, p->o, p->c, hw, sink);
    return;
  }
  const int32_t cg = p->c / p->groups;
  const int32_t og = p->o / p->groups;
  const int32_t taps = p->kh * p->kw;
  float t[TCC_MAX_TAPS];
  for (int32_t channel = 0; channel < p->c; ++channel) {
    const int32_t g = channel / cg, ci = channel % cg;
    int32_t image;
    const float *xc = tcc_grad_x_channels(x, p->n, p->c, hw, channel, 1, &image);
    for (int32_t oc = g * og; oc < (g + 1) * og; ++oc) {
      /* The taps of (oc, ci): into dw, or into t for the sink. */
      float *dwc = sink == NULL ? dw + (oc * cg + ci) * taps : t;
      tcc_grad_weight_taps(dy, xc, image, oc, p, dwc);
      if (sink != NULL) sink->put(sink, t, taps, (oc * cg + ci) * taps, taps, 1, taps);
    }
  }
}

void tcc_conv2d_grad_weight_to(const float *dy, const float *x, float *dw,
                               const tcc_conv2d_params *p, const tcc_dw_sink *sink) {
  const tcc_grad_x gx = {x, NULL, NULL, NULL};
  tcc_grad_weight(dy, &gx, dw, p, sink);
}

void tcc_conv2d_grad_weight_s8x_to(const float *dy, const int8_t *x, const float *table,
                                   float *scratch, const tcc_conv2d_params *p,
                                   const tcc_dw_sink *sink) {
  const tcc_grad_x gx = {NULL, x, table, scratch};
  tcc_grad_weight(dy, &gx, NULL, p, sink);
}

void tcc_add_f32(const float *a, const float *b, float *y, int32_t size) {
  for (int32_t i = 0; i < size; ++i) y[i] = a[i] + b[i];
}

void tcc_relu_f32(const float *x, float *y, int32_t size) {
  for (int32_t i = 0; i < size; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void tcc_relu_grad_f32(const float *dy, const float *y, float *dx,
                       int32_t size) {
  for (int32_t i = 0; i < size; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void tcc_copy_f32(const float *src, float *dst, int32_t size) {
  if ((uintptr_t)dst <= (uintptr_t)src) {
    for (int32_t i = 0; i < size; ++i) dst[i] = src[i];
  } else {
    for (int32_t i = size - 1; i >= 0; --i) dst[i] = src[i];
  }
}

/* ------------------------------------------------ exp and log, portable */
/* libm's expf and logf differ between C libraries (glibc on the host,
 * newlib on the target); these use float +, -, * and / only, so every
 * IEEE-754 build computes the same bits (with -ffp-contract=off). Within
 * about 2 ulp of the exact values. */

/* v * 2^k for an integer k in [-252, 254]. */
static float tcc_scale_pow2(float v, int32_t k) {
  union { uint32_t u; float f; } s;
  while (k > 127) { v *= 1.7014118346e38f; k -= 127; }       /* 2^127 */
  while (k < -126) { v *= 1.1754943508e-38f; k += 126; }     /* 2^-126 */
  s.u = (uint32_t)(k + 127) << 23;
  return v * s.f;
}

float tcc_expf(float x) {
  if (x != x) return x;
  if (x > 88.7228394f) return HUGE_VALF;
  if (x < -103.972084f) return 0.0f;
  /* x = k ln2 + r, |r| <= ln2 / 2; ln2 = hi + lo with k * hi exact. */
  const float kf = floorf(x * 1.44269504f + 0.5f);
  const float r = (x - kf * 0.693145752f) - kf * 1.42860677e-06f;
  /* exp(r) by its Taylor series to r^7 (error below 2^-27 for |r| <= 0.35). */
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return tcc_scale_pow2(p, (int32_t)kf);
}

float tcc_logf(float x) {
  if (x != x || x < 0.0f) return NAN;
  if (x == 0.0f) return -HUGE_VALF;
  if (x == HUGE_VALF) return x;
  int32_t e = 0;
  while (x < 1.1754943508e-38f) { x *= 8388608.0f; e -= 23; } /* subnormal */
  union { uint32_t u; float f; } b = {0};
  b.f = x;
  e += (int32_t)((b.u >> 23) & 0xFFu) - 127;
  b.u = (b.u & 0x007FFFFFu) | 0x3F800000u;                    /* m in [1, 2) */
  float m = b.f;
  if (m > 1.41421356f) { m *= 0.5f; e += 1; }                  /* [sqrt(1/2), sqrt 2) */
  /* log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.1716. */
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  float q = 1.0f / 11.0f;
  q = q * s2 + 1.0f / 9.0f;
  q = q * s2 + 1.0f / 7.0f;
  q = q * s2 + 1.0f / 5.0f;
  q = q * s2 + 1.0f / 3.0f;
  q = q * s2 + 1.0f;
  const float ef = (float)e;
  return ef * 0.693145752f + (2.0f * s * q + ef * 1.42860677e-06f);
}

/* erf(x) from erfc's Chebyshev fit (Numerical Recipes' erfcc, relative error
 * of erfc below 1.2e-7), through tcc_expf: portable bits. */
static float tcc_erff(float x) {
  const float z = fabsf(x);
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float erfc = t * tcc_expf(p - z * z);
  return x >= 0.0f ? 1.0f - erfc : erfc - 1.0f;
}

/* tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)), through tcc_expf. */
static float tcc_tanhf(float x) {
  const float r = 1.0f - 2.0f / (tcc_expf(2.0f * fabsf(x)) + 1.0f);
  return x >= 0.0f ? r : -r;
}

/* Row maximum of v[0..c). */
static float tcc_row_max(const float *v, int32_t c) {
  float mx = v[0];
  for (int32_t j = 1; j < c; ++j) mx = v[j] > mx ? v[j] : mx;
  return mx;
}

/* sum_j exp(v[j] - mx), j increasing. */
static float tcc_row_sum_exp(const float *v, int32_t c, float mx) {
  float s = 0.0f;
  for (int32_t j = 0; j < c; ++j) s += tcc_expf(v[j] - mx);
  return s;
}

void tcc_cross_entropy_f32(const float *logits, const int32_t *labels,
                           float *loss, int32_t n, int32_t c) {
  float total = 0.0f;
  for (int32_t r = 0; r < n; ++r) {
    const float *v = logits + r * c;
    const float mx = tcc_row_max(v, c);
    /* logsumexp(v) - v[label], with the max subtracted from both terms. */
    total += tcc_logf(tcc_row_sum_exp(v, c, mx)) - (v[labels[r]] - mx);
  }
  *loss = total / (float)n;
}

void tcc_cross_entropy_grad_f32(const float *logits, const int32_t *labels,
                                float *dlogits, int32_t n, int32_t c) {
  for (int32_t r = 0; r < n; ++r) {
    const float *v = logits + r * c;
    float *d = dlogits + r * c;
    const float mx = tcc_row_max(v, c);
    const float s = tcc_row_sum_exp(v, c, mx);
    for (int32_t j = 0; j < c; ++j) {
      const float onehot = j == labels[r] ? 1.0f : 0.0f;
      d[j] = (tcc_expf(v[j] - mx) / s - onehot) / (float)n;
    }
  }
}

void tcc_sgd_f32(float *param, const float *grad, float lr,
                 float weight_decay, int32_t size) {
  for (int32_t i = 0; i < size; ++i)
    param[i] -= lr * (grad[i] + weight_decay * param[i]);
}

/* ------------------------------------------------------------ element-wise */

void tcc_mul_f32(const float *a, const float *b, float *y, int32_t size) {
  for (int32_t i = 0; i < size; ++i) y[i] = a[i] * b[i];
}

void tcc_clamp_f32(const float *x, float *y, float lo, float hi, int32_t size) {
  for (int32_t i = 0; i < size; ++i) {
    const float v = x[i] < lo ? lo : x[i];
    y[i] = v > hi ? hi : v;
  }
}

void tcc_clamp_grad_f32(const float *dy, const float *x, float *dx, float lo, float hi,
                        int32_t size) {
  for (int32_t i = 0; i < size; ++i) dx[i] = x[i] > lo && x[i] < hi ? dy[i] : 0.0f;
}

/* 1-bit masks (train.clamp_mask): bit i % 8 of byte i / 8, least significant first.
 * Whole bytes first (eight elements, unrolled), then the tail; bits past size are 0. */
#define TCC_MASK_BYTES(inside)                                                     \
  do {                                                                             \
    int32_t byte = 0;                                                              \
    for (; byte < size / 8; ++byte) {                                              \
      const int32_t i = byte * 8;                                                  \
      mask[byte] = (int8_t)(inside(i) | inside(i + 1) << 1 | inside(i + 2) << 2 |  \
                            inside(i + 3) << 3 | inside(i + 4) << 4 |              \
                            inside(i + 5) << 5 | inside(i + 6) << 6 |              \
                            inside(i + 7) << 7);                                   \
    }                                                                              \
    if (byte * 8 < size) {                                                         \
      uint32_t bits = 0;                                                           \
      for (int32_t i = byte * 8; i < size; ++i) bits |= inside(i) << (i & 7);      \
      mask[byte] = (int8_t)bits;                                                   \
    }                                                                              \
  } while (0)

void tcc_clamp_mask_f32(const float *x, int8_t *mask, float lo, float hi, int32_t size) {
#define TCC_INSIDE_F32(i) ((uint32_t)(x[i] > lo && x[i] < hi))
  TCC_MASK_BYTES(TCC_INSIDE_F32);
#undef TCC_INSIDE_F32
}

/* Of int8 storage values: the compiler turned lo < s·(q - z) < hi into qa <= q <= qb,
 * one unsigned compare: (q - qa) as unsigned <= qb - qa (false for all q if qa > qb). */
void tcc_clamp_mask_s8(const int8_t *q, int8_t *mask, int32_t qa, int32_t qb, int32_t size) {
  const uint32_t width = qa <= qb ? (uint32_t)(qb - qa) : 0u;
  const int32_t base = qa <= qb ? qa : 1 << 16;   /* empty: every q - base wraps high */
#define TCC_INSIDE_S8(i) ((uint32_t)((uint32_t)(q[i] - base) <= width))
  TCC_MASK_BYTES(TCC_INSIDE_S8);
#undef TCC_INSIDE_S8
}
#undef TCC_MASK_BYTES

/* dx = dy where the mask bit is 1, else 0 (dx may be dy); one mask byte per 8. */
void tcc_mask_grad_f32(const float *dy, const int8_t *mask, float *dx, int32_t size) {
  int32_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const uint32_t bits = (uint8_t)mask[i >> 3];
    TCC_UNROLL4
    for (int32_t k = 0; k < 8; ++k) dx[i + k] = (bits >> k) & 1u ? dy[i + k] : 0.0f;
  }
  for (; i < size; ++i) dx[i] = ((uint8_t)mask[i >> 3] >> (i & 7)) & 1u ? dy[i] : 0.0f;
}

void tcc_hardswish_f32(const float *x, float *y, int32_t size) {
  for (int32_t i = 0; i < size; ++i) {
    const float v = x[i];
    float r = v + 3.0f;
    r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r;
    y[i] = v * r / 6.0f;
  }
}

void tcc_hardswish_grad_f32(const float *dy, const float *x, float *dx, int32_t size) {
  for (int32_t i = 0; i < size; ++i) {
    const float v = x[i];
    dx[i] = v <= -3.0f ? 0.0f : v < 3.0f ? dy[i] * (v / 3.0f + 0.5f) : dy[i];
  }
}

void tcc_sigmoid_f32(const float *x, float *y, int32_t size) {
  for (int32_t i = 0; i < size; ++i) {
    const float e = tcc_expf(-fabsf(x[i])); /* in (0, 1]: never overflows */
    y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
}

void tcc_sigmoid_grad_f32(const float *dy, const float *y, float *dx, int32_t size) {
  for (int32_t i = 0; i < size; ++i) dx[i] = dy[i] * (1.0f - y[i]) * y[i];
}

#define TCC_SQRT_2_OVER_PI 0.7978845608f
#define TCC_GELU_KAPPA 0.044715f
#define TCC_SQRT1_2 0.70710678118654752f
#define TCC_INV_SQRT_2PI 0.39894228040143268f

void tcc_gelu_f32(const float *x, float *y, int32_t size, int32_t tanh_form) {
  for (int32_t i = 0; i < size; ++i) {
    const float v = x[i];
    const float t = tanh_form
        ? tcc_tanhf(TCC_SQRT_2_OVER_PI * (v + TCC_GELU_KAPPA * (v * v * v)))
        : tcc_erff(v * TCC_SQRT1_2);
    y[i] = v / 2.0f * (1.0f + t);
  }
}

void tcc_gelu_grad_f32(const float *dy, const float *x, float *dx, int32_t size,
                       int32_t tanh_form) {
  for (int32_t i = 0; i < size; ++i) {
    const float v = x[i];
    float slope;
    if (tanh_form) {
      const float t = tcc_tanhf(TCC_SQRT_2_OVER_PI * (v + TCC_GELU_KAPPA * v * v * v));
      slope = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * TCC_SQRT_2_OVER_PI *
              (1.0f + 3.0f * TCC_GELU_KAPPA * v * v);
    } else {
      /* Phi(x) + x phi(x), the standard normal cdf and pdf. */
      const float cdf = 0.5f * (1.0f + tcc_erff(v * TCC_SQRT1_2));
      slope = cdf + v * tcc_expf(-0.5f * v * v) * TCC_INV_SQRT_2PI;
    }
    dx[i] = dy[i] * slope;
  }
}

/* ----------------------------------------------------------- reductions */

void tcc_matmul_f32(const float *a, const float *c, float *y, int32_t batch, int32_t m,
                    int32_t k, int32_t n) {
  for (int32_t b = 0; b < batch; ++b) {
    const float *ab = a + b * m * k, *cb = c + b * k * n;
    float *yb = y + b * m * n;
    for (int32_t i = 0; i < m; ++i) {
      float *yr = yb + i * n;
      for (int32_t j = 0; j < n; ++j) yr[j] = 0.0f;
      /* Row i accumulates over increasing k for every column at once. */
      for (int32_t t = 0; t < k; ++t) {
        const float av = ab[i * k + t];
        const float *cr = cb + t * n;
        for (int32_t j = 0; j < n; ++j) yr[j] += av * cr[j];
      }
    }
  }
}

void tcc_softmax_f32(const float *x, float *y, int32_t outer, int32_t axis, int32_t inner) {
  for (int32_t o = 0; o < outer; ++o) {
    for (int32_t in = 0; in < inner; ++in) {
      const float *xv = x + o * axis * inner + in;
      float *yv = y + o * axis * inner + in;
      float mx = xv[0];
      for (int32_t a = 1; a < axis; ++a) mx = xv[a * inner] > mx ? xv[a * inner] : mx;
      float sum = 0.0f;
      for (int32_t a = 0; a < axis; ++a) {
        yv[a * inner] = tcc_expf(xv[a * inner] - mx);
        sum += yv[a * inner];
      }
      for (int32_t a = 0; a < axis; ++a) yv[a * inner] /= sum;
    }
  }
}

void tcc_softmax_grad_f32(const float *dy, const float *y, float *dx, int32_t outer,
                          int32_t axis, int32_t inner) {
  for (int32_t o = 0; o < outer; ++o) {
    for (int32_t in = 0; in < inner; ++in) {
      const int32_t base = o * axis * inner + in;
      float dot = 0.0f;
      for (int32_t a = 0; a < axis; ++a) dot += dy[base + a * inner] * y[base + a * inner];
      for (int32_t a = 0; a < axis; ++a)
        dx[base + a * inner] = y[base + a * inner] * (dy[base + a * inner] - dot);
    }
  }
}

/* Mean and 1 / sqrt(biased variance + eps) of one row of m values. */
static void tcc_row_moments(const float *x, int32_t m, float eps, float *mean, float *rstd) {
  float sum = 0.0f;
  for (int32_t i = 0; i < m; ++i) sum += x[i];
  const float mu = sum / (float)m;
  float sq = 0.0f;
  for (int32_t i = 0; i < m; ++i) sq += (x[i] - mu) * (x[i] - mu);
  *mean = mu;
  *rstd = 1.0f / sqrtf(sq / (float)m + eps);
}

void tcc_layer_norm_f32(const float *x, const float *w, const float *b, float *y,
                        int32_t rows, int32_t m, float eps) {
  for (int32_t r = 0; r < rows; ++r) {
    const float *xr = x + r * m;
    float *yr = y + r * m;
    float sum = 0.0f;
    for (int32_t i = 0; i < m; ++i) sum += xr[i];
    const float mu = sum / (float)m;
    float sq = 0.0f;
    for (int32_t i = 0; i < m; ++i) sq += (xr[i] - mu) * (xr[i] - mu);
    const float sd = sqrtf(sq / (float)m + eps);
    for (int32_t i = 0; i < m; ++i) yr[i] = (xr[i] - mu) / sd * w[i] + b[i];
  }
}

void tcc_layer_norm_grad_input_f32(const float *dy, const float *x, const float *w,
                                   float *dx, int32_t rows, int32_t m, float eps) {
  for (int32_t r = 0; r < rows; ++r) {
    const float *xr = x + r * m, *dyr = dy + r * m;
    float *dxr = dx + r * m;
    float mu, rstd;
    tcc_row_moments(xr, m, eps, &mu, &rstd);
    float g_sum = 0.0f, gx_sum = 0.0f;
    for (int32_t i = 0; i < m; ++i) {
      const float g = dyr[i] * w[i];
      g_sum += g;
      gx_sum += g * ((xr[i] - mu) * rstd);
    }
    const float g_mean = g_sum / (float)m, gx_mean = gx_sum / (float)m;
    for (int32_t i = 0; i < m; ++i) {
      const float xhat = (xr[i] - mu) * rstd;
      dxr[i] = rstd * (dyr[i] * w[i] - g_mean - xhat * gx_mean);
    }
  }
}

void tcc_batch_norm_f32(const float *x, const float *gamma, const float *beta,
                        const float *mean, const float *var, float *y, int32_t n,
                        int32_t c, int32_t inner, float eps) {
  for (int32_t r = 0; r < n; ++r) {
    for (int32_t ch = 0; ch < c; ++ch) {
      const float sd = sqrtf(var[ch] + eps);
      const float *xc = x + (r * c + ch) * inner;
      float *yc = y + (r * c + ch) * inner;
      for (int32_t i = 0; i < inner; ++i)
        yc[i] = (xc[i] - mean[ch]) / sd * gamma[ch] + beta[ch];
    }
  }
}

void tcc_mse_f32(const float *p, const float *t, float *loss, int32_t size) {
  float sum = 0.0f;
  for (int32_t i = 0; i < size; ++i) sum += (p[i] - t[i]) * (p[i] - t[i]);
  *loss = sum / (float)size;
}

void tcc_mse_grad_f32(const float *p, const float *t, float *dp, int32_t size) {
  const float scale = 2.0f / (float)size;
  for (int32_t i = 0; i < size; ++i) dp[i] = (p[i] - t[i]) * scale;
}

/* -------------------------------------------------------------- pooling */

/* Window [*lo, *hi) of input rows of output row i (clipped to the input); the
 * divisor counts the padded rows too when count_include_pad. */
static void tcc_window(int32_t i, int32_t stride, int32_t pad, int32_t k, int32_t size,
                       int32_t *lo, int32_t *hi) {
  const int32_t start = i * stride - pad;
  *lo = start < 0 ? 0 : start;
  *hi = start + k > size ? size : start + k;
}

static float tcc_pool_divisor(const tcc_pool2d_params *p, int32_t u0, int32_t u1,
                              int32_t v0, int32_t v1) {
  return p->count_include_pad ? (float)(p->kh * p->kw) : (float)((u1 - u0) * (v1 - v0));
}

void tcc_avg_pool2d_f32(const float *x, float *y, const tcc_pool2d_params *p) {
  for (int32_t nc = 0; nc < p->n * p->c; ++nc) {
    const float *xc = x + nc * p->h * p->w;
    float *yc = y + nc * p->oh * p->ow;
    for (int32_t i = 0; i < p->oh; ++i) {
      int32_t u0, u1;
      tcc_window(i, p->stride_h, p->pad_h, p->kh, p->h, &u0, &u1);
      for (int32_t j = 0; j < p->ow; ++j) {
        int32_t v0, v1;
        tcc_window(j, p->stride_w, p->pad_w, p->kw, p->w, &v0, &v1);
        float sum = 0.0f;
        for (int32_t u = u0; u < u1; ++u)
          for (int32_t v = v0; v < v1; ++v) sum += xc[u * p->w + v];
        yc[i * p->ow + j] = sum / tcc_pool_divisor(p, u0, u1, v0, v1);
      }
    }
  }
}

void tcc_avg_pool2d_grad_f32(const float *dy, float *dx, const tcc_pool2d_params *p) {
  for (int32_t nc = 0; nc < p->n * p->c; ++nc) {
    float *dxc = dx + nc * p->h * p->w;
    const float *dyc = dy + nc * p->oh * p->ow;
    for (int32_t i = 0; i < p->h * p->w; ++i) dxc[i] = 0.0f;
    for (int32_t i = 0; i < p->oh; ++i) {
      int32_t u0, u1;
      tcc_window(i, p->stride_h, p->pad_h, p->kh, p->h, &u0, &u1);
      for (int32_t j = 0; j < p->ow; ++j) {
        int32_t v0, v1;
        tcc_window(j, p->stride_w, p->pad_w, p->kw, p->w, &v0, &v1);
        const float g = dyc[i * p->ow + j] / tcc_pool_divisor(p, u0, u1, v0, v1);
        for (int32_t u = u0; u < u1; ++u)
          for (int32_t v = v0; v < v1; ++v) dxc[u * p->w + v] += g;
      }
    }
  }
}

/* Index (u * w + v) of the first maximum of a window; padding (-inf) never
 * wins since every window holds an input element. */
static int32_t tcc_window_argmax(const float *xc, int32_t w, int32_t u0, int32_t u1,
                                 int32_t v0, int32_t v1) {
  int32_t best = u0 * w + v0;
  for (int32_t u = u0; u < u1; ++u)
    for (int32_t v = v0; v < v1; ++v)
      if (xc[u * w + v] > xc[best]) best = u * w + v;
  return best;
}

void tcc_max_pool2d_f32(const float *x, float *y, const tcc_pool2d_params *p) {
  for (int32_t nc = 0; nc < p->n * p->c; ++nc) {
    const float *xc = x + nc * p->h * p->w;
    float *yc = y + nc * p->oh * p->ow;
    for (int32_t i = 0; i < p->oh; ++i) {
      int32_t u0, u1;
      tcc_window(i, p->stride_h, p->pad_h, p->kh, p->h, &u0, &u1);
      for (int32_t j = 0; j < p->ow; ++j) {
        int32_t v0, v1;
        tcc_window(j, p->stride_w, p->pad_w, p->kw, p->w, &v0, &v1);
        yc[i * p->ow + j] = xc[tcc_window_argmax(xc, p->w, u0, u1, v0, v1)];
      }
    }
  }
}

void tcc_max_pool2d_grad_f32(const float *dy, const float *x, float *dx,
                             const tcc_pool2d_params *p) {
  for (int32_t nc = 0; nc < p->n * p->c; ++nc) {
    const float *xc = x + nc * p->h * p->w;
    const float *dyc = dy + nc * p->oh * p->ow;
    float *dxc = dx + nc * p->h * p->w;
    for (int32_t i = 0; i < p->h * p->w; ++i) dxc[i] = 0.0f;
    for (int32_t i = 0; i < p->oh; ++i) {
      int32_t u0, u1;
      tcc_window(i, p->stride_h, p->pad_h, p->kh, p->h, &u0, &u1);
      for (int32_t j = 0; j < p->ow; ++j) {
        int32_t v0, v1;
        tcc_window(j, p->stride_w, p->pad_w, p->kw, p->w, &v0, &v1);
        dxc[tcc_window_argmax(xc, p->w, u0, u1, v0, v1)] += dyc[i * p->ow + j];
      }
    }
  }
}

void tcc_global_avg_pool_f32(const float *x, float *y, int32_t rows, int32_t inner) {
  for (int32_t r = 0; r < rows; ++r) {
    float sum = 0.0f;
    for (int32_t i = 0; i < inner; ++i) sum += x[r * inner + i];
    y[r] = sum / (float)inner;
  }
}

/* --------------------------------------------------------------- layout */

/* Row-major strides of `shape` in elements. */
static void tcc_strides(int32_t rank, const int32_t *shape, int32_t *strides) {
  int32_t s = 1;
  for (int32_t d = rank - 1; d >= 0; --d) {
    strides[d] = s;
    s *= shape[d];
  }
}

/* Advances the index `at` over `shape` in row-major order, skipping the last
 * `skip` dims; returns 0 after the last index. */
static int32_t tcc_next_index(int32_t rank, const int32_t *shape, int32_t *at, int32_t skip) {
  for (int32_t d = rank - 1 - skip; d >= 0; --d) {
    if (++at[d] < shape[d]) return 1;
    at[d] = 0;
  }
  return 0;
}

static int32_t tcc_count(int32_t rank, const int32_t *shape) {
  int32_t n = 1;
  for (int32_t d = 0; d < rank; ++d) n *= shape[d];
  return n;
}

void tcc_slice(const void *x, void *y, int32_t rank, const int32_t *shape,
               const int32_t *offsets, const int32_t *sizes, int32_t bytes) {
  int32_t strides[TCC_MAX_RANK], at[TCC_MAX_RANK] = {0};
  tcc_strides(rank, shape, strides);
  if (tcc_count(rank, sizes) == 0) return;
  const size_t run = (size_t)sizes[rank - 1] * (size_t)bytes;
  uint8_t *out = (uint8_t *)y;
  do {
    int32_t src = 0;
    for (int32_t d = 0; d < rank; ++d) src += (offsets[d] + at[d]) * strides[d];
    memcpy(out, (const uint8_t *)x + (size_t)src * (size_t)bytes, run);
    out += run;
  } while (tcc_next_index(rank, sizes, at, 1));
}

void tcc_pad_to(const void *x, void *y, int32_t rank, const int32_t *shape,
                const int32_t *offsets, const int32_t *sizes, int32_t bytes) {
  int32_t strides[TCC_MAX_RANK], at[TCC_MAX_RANK] = {0};
  const uint8_t *in = (const uint8_t *)x;
  uint8_t *out = (uint8_t *)y;
  tcc_strides(rank, shape, strides);
  /* All-zero bytes are 0 of every element kind (0.0f, int8, int16, int32). */
  memset(out, 0, (size_t)tcc_count(rank, shape) * (size_t)bytes);
  if (tcc_count(rank, sizes) == 0) return;
  const size_t run = (size_t)sizes[rank - 1] * (size_t)bytes;
  do {
    int32_t dst = 0;
    for (int32_t d = 0; d < rank; ++d) dst += (offsets[d] + at[d]) * strides[d];
    memcpy(out + (size_t)dst * (size_t)bytes, in, run);
    in += run;
  } while (tcc_next_index(rank, sizes, at, 1));
}

void tcc_concat(const void *const *parts, const int32_t *axis_sizes, int32_t count,
                void *y, int32_t outer, int32_t inner, int32_t bytes) {
  uint8_t *out = (uint8_t *)y;
  for (int32_t o = 0; o < outer; ++o) {
    for (int32_t i = 0; i < count; ++i) {
      const size_t run = (size_t)axis_sizes[i] * (size_t)inner * (size_t)bytes;
      memcpy(out, (const uint8_t *)parts[i] + (size_t)o * run, run);
      out += run;
    }
  }
}

void tcc_transpose(const void *x, void *y, int32_t rank, const int32_t *shape,
                   const int32_t *perm, int32_t bytes) {
  int32_t strides[TCC_MAX_RANK], out_shape[TCC_MAX_RANK], at[TCC_MAX_RANK] = {0};
  tcc_strides(rank, shape, strides);
  for (int32_t d = 0; d < rank; ++d) out_shape[d] = shape[perm[d]];
  if (tcc_count(rank, shape) == 0) return;
  uint8_t *out = (uint8_t *)y;
  do {
    int32_t src = 0;
    for (int32_t d = 0; d < rank; ++d) src += at[d] * strides[perm[d]];
    memcpy(out, (const uint8_t *)x + (size_t)src * (size_t)bytes, (size_t)bytes);
    out += bytes;
  } while (tcc_next_index(rank, out_shape, at, 0));
}

void tcc_broadcast(const void *x, void *y, int32_t rank, const int32_t *from,
                   const int32_t *shape, int32_t bytes) {
  int32_t strides[TCC_MAX_RANK], at[TCC_MAX_RANK] = {0};
  tcc_strides(rank, from, strides);
  if (tcc_count(rank, shape) == 0) return;
  uint8_t *out = (uint8_t *)y;
  do {
    int32_t src = 0;
    for (int32_t d = 0; d < rank; ++d) src += (from[d] == 1 ? 0 : at[d]) * strides[d];
    memcpy(out, (const uint8_t *)x + (size_t)src * (size_t)bytes, (size_t)bytes);
    out += bytes;
  } while (tcc_next_index(rank, shape, at, 0));
}

void tcc_sum_to_f32(const float *x, float *y, int32_t rank, const int32_t *shape,
                    const int32_t *to) {
  int32_t strides[TCC_MAX_RANK], at[TCC_MAX_RANK] = {0};
  tcc_strides(rank, to, strides);
  for (int32_t i = 0; i < tcc_count(rank, to); ++i) y[i] = 0.0f;
  if (tcc_count(rank, shape) == 0) return;
  do {
    int32_t dst = 0;
    for (int32_t d = 0; d < rank; ++d) dst += (to[d] == 1 ? 0 : at[d]) * strides[d];
    y[dst] += *x++;
  } while (tcc_next_index(rank, shape, at, 0));
}

/* ------------------------------------------------------------ optimizers */

void tcc_sgd_momentum_f32(float *param, const float *grad, float *buffer, float lr,
                          float momentum, float weight_decay, int32_t size) {
  for (int32_t i = 0; i < size; ++i) {
    const float g = weight_decay != 0.0f ? grad[i] + weight_decay * param[i] : grad[i];
    buffer[i] = momentum * buffer[i] + g;
    param[i] -= lr * buffer[i];
  }
}

/*
 * tcc_kernels.c - straightforward fp32 kernels (see tcc_kernels.h).
 *
 * Correctness-first loops: each output element is computed by one float
 * accumulator that starts at 0.0f and adds terms in increasing index order.
 */
#include "tcc_kernels.h"

#include <math.h>

void tcc_linear_f32(const float *x, const float *w, const float *b, float *y,
                    int32_t n, int32_t k, int32_t m) {
  for (int32_t r = 0; r < n; ++r) {
    for (int32_t j = 0; j < m; ++j) {
      float acc = 0.0f;
      for (int32_t i = 0; i < k; ++i) acc += x[r * k + i] * w[j * k + i];
      if (b != NULL) acc += b[j];
      y[r * m + j] = acc;
    }
  }
}

void tcc_linear_grad_input_f32(const float *dy, const float *w, float *dx,
                               int32_t n, int32_t k, int32_t m) {
  for (int32_t r = 0; r < n; ++r) {
    for (int32_t i = 0; i < k; ++i) {
      float acc = 0.0f;
      for (int32_t j = 0; j < m; ++j) acc += dy[r * m + j] * w[j * k + i];
      dx[r * k + i] = acc;
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

void tcc_conv2d_f32(const float *x, const float *w, const float *b, float *y,
                    const tcc_conv2d_params *p) {
  const int32_t cg = p->c / p->groups; /* input channels per group */
  const int32_t og = p->o / p->groups; /* output channels per group */
  for (int32_t n = 0; n < p->n; ++n) {
    for (int32_t oc = 0; oc < p->o; ++oc) {
      const int32_t g = oc / og;
      float *yc = y + (n * p->o + oc) * p->oh * p->ow;
      for (int32_t i = 0; i < p->oh; ++i) {
        for (int32_t j = 0; j < p->ow; ++j) {
          float acc = 0.0f;
          for (int32_t ci = 0; ci < cg; ++ci) {
            const float *xc = x + (n * p->c + g * cg + ci) * p->h * p->w;
            const float *wc = w + (oc * cg + ci) * p->kh * p->kw;
            for (int32_t ky = 0; ky < p->kh; ++ky) {
              const int32_t u = i * p->stride_h - p->pad_h + ky * p->dil_h;
              if (u < 0 || u >= p->h) continue;
              for (int32_t kx = 0; kx < p->kw; ++kx) {
                const int32_t v = j * p->stride_w - p->pad_w + kx * p->dil_w;
                if (v < 0 || v >= p->w) continue;
                acc += xc[u * p->w + v] * wc[ky * p->kw + kx];
              }
            }
          }
          if (b != NULL) acc += b[oc];
          yc[i * p->ow + j] = acc;
        }
      }
    }
  }
}

void tcc_conv2d_grad_input_f32(const float *dy, const float *w, float *dx,
                               const tcc_conv2d_params *p) {
  const int32_t cg = p->c / p->groups;
  const int32_t og = p->o / p->groups;
  for (int32_t n = 0; n < p->n; ++n) {
    for (int32_t c = 0; c < p->c; ++c) {
      const int32_t g = c / cg;
      const int32_t ci = c - g * cg;
      float *dxc = dx + (n * p->c + c) * p->h * p->w;
      for (int32_t u = 0; u < p->h; ++u) {
        for (int32_t v = 0; v < p->w; ++v) {
          float acc = 0.0f;
          for (int32_t oc = g * og; oc < (g + 1) * og; ++oc) {
            const float *dyc = dy + (n * p->o + oc) * p->oh * p->ow;
            const float *wc = w + (oc * cg + ci) * p->kh * p->kw;
            for (int32_t ky = 0; ky < p->kh; ++ky) {
              /* Output row i reads input row u through tap ky iff
               * i * stride_h = u + pad_h - ky * dil_h. */
              const int32_t ti = u + p->pad_h - ky * p->dil_h;
              if (ti < 0 || ti % p->stride_h != 0) continue;
              const int32_t i = ti / p->stride_h;
              if (i >= p->oh) continue;
              for (int32_t kx = 0; kx < p->kw; ++kx) {
                const int32_t tj = v + p->pad_w - kx * p->dil_w;
                if (tj < 0 || tj % p->stride_w != 0) continue;
                const int32_t j = tj / p->stride_w;
                if (j >= p->ow) continue;
                acc += dyc[i * p->ow + j] * wc[ky * p->kw + kx];
              }
            }
          }
          dxc[u * p->w + v] = acc;
        }
      }
    }
  }
}

void tcc_conv2d_grad_weight_f32(const float *dy, const float *x, float *dw,
                                const tcc_conv2d_params *p) {
  const int32_t cg = p->c / p->groups;
  const int32_t og = p->o / p->groups;
  for (int32_t oc = 0; oc < p->o; ++oc) {
    const int32_t g = oc / og;
    for (int32_t ci = 0; ci < cg; ++ci) {
      float *dwc = dw + (oc * cg + ci) * p->kh * p->kw;
      for (int32_t ky = 0; ky < p->kh; ++ky) {
        for (int32_t kx = 0; kx < p->kw; ++kx) {
          float acc = 0.0f;
          for (int32_t n = 0; n < p->n; ++n) {
            const float *dyc = dy + (n * p->o + oc) * p->oh * p->ow;
            const float *xc = x + (n * p->c + g * cg + ci) * p->h * p->w;
            for (int32_t i = 0; i < p->oh; ++i) {
              const int32_t u = i * p->stride_h - p->pad_h + ky * p->dil_h;
              if (u < 0 || u >= p->h) continue;
              for (int32_t j = 0; j < p->ow; ++j) {
                const int32_t v = j * p->stride_w - p->pad_w + kx * p->dil_w;
                if (v < 0 || v >= p->w) continue;
                acc += dyc[i * p->ow + j] * xc[u * p->w + v];
              }
            }
          }
          dwc[ky * p->kw + kx] = acc;
        }
      }
    }
  }
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

/* Row maximum of v[0..c). */
static float tcc_row_max(const float *v, int32_t c) {
  float mx = v[0];
  for (int32_t j = 1; j < c; ++j) mx = v[j] > mx ? v[j] : mx;
  return mx;
}

/* sum_j exp(v[j] - mx), j increasing. */
static float tcc_row_sum_exp(const float *v, int32_t c, float mx) {
  float s = 0.0f;
  for (int32_t j = 0; j < c; ++j) s += expf(v[j] - mx);
  return s;
}

void tcc_cross_entropy_f32(const float *logits, const int32_t *labels,
                           float *loss, int32_t n, int32_t c) {
  float total = 0.0f;
  for (int32_t r = 0; r < n; ++r) {
    const float *v = logits + r * c;
    const float mx = tcc_row_max(v, c);
    /* logsumexp(v) - v[label], with the max subtracted from both terms. */
    total += logf(tcc_row_sum_exp(v, c, mx)) - (v[labels[r]] - mx);
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
      d[j] = (expf(v[j] - mx) / s - onehot) / (float)n;
    }
  }
}

void tcc_sgd_f32(float *param, const float *grad, float lr,
                 float weight_decay, int32_t size) {
  for (int32_t i = 0; i < size; ++i)
    param[i] -= lr * (grad[i] + weight_decay * param[i]);
}

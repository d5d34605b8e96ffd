/*
 * tcc_int8.c - out-of-line versions of the int8 kernels of tcc_int8.h, for
 * code that calls them with shapes known only at run time (one copy of each
 * loop nest instead of one specialised copy per call).
 */
#include "tcc_int8.h"

void tcc_q_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                     tcc_q_conv_shape s, tcc_q_requant rq) {
  tcc_q_conv2d_s8_inline(x, w, bias, y, s, rq);
}

void tcc_q_conv2d_im2col_s8(const int8_t *x, const int8_t *w, const int32_t *bias,
                            int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq,
                            int16_t *scratch) {
  tcc_q_conv2d_im2col_s8_inline(x, w, bias, y, s, rq, scratch);
}

void tcc_q_depthwise_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias,
                               int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq,
                               int16_t *scratch) {
  tcc_q_depthwise_conv2d_s8_inline(x, w, bias, y, s, rq, scratch);
}

void tcc_q_pointwise_conv2d_s8(const int8_t *x, const int8_t *w, const int32_t *bias,
                               int8_t *y, tcc_q_conv_shape s, tcc_q_requant rq,
                               int16_t *scratch) {
  tcc_q_pointwise_conv2d_s8_inline(x, w, bias, y, s, rq, scratch);
}

void tcc_q_linear_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y,
                     int32_t n, int32_t k, int32_t m, tcc_q_requant rq, int16_t *scratch) {
  tcc_q_linear_s8_inline(x, w, bias, y, n, k, m, rq, scratch);
}

void tcc_q_bottleneck_s8(const int8_t *x, const int8_t *we, const int32_t *be,
                         const int8_t *wd, const int32_t *bd, const int8_t *wp,
                         const int32_t *bp, int8_t *y, tcc_q_bottleneck_shape s,
                         tcc_q_requant rq_e, tcc_q_requant rq_d, tcc_q_requant rq_p,
                         int8_t *arena, int16_t *scratch) {
  tcc_q_bottleneck_s8_inline(x, we, be, wd, bd, wp, bp, y, s, rq_e, rq_d, rq_p, arena,
                             scratch);
}

void tcc_q_bottleneck_row(tcc_q_stage *st, int32_t i, int8_t *y, int32_t plane,
                          int16_t *scratch) {
  if (st->source == NULL) {
    tcc_q_bottleneck_row_inline(st, i, y, plane, scratch);
    return;
  }
  int32_t from, to;
  tcc_q_bottleneck_window(st, i, &from, &to);
  for (int32_t r = from; r < to; ++r) {
    tcc_q_bottleneck_row(st->source, r, st->source_row, st->source->s.ow, scratch);
    tcc_q_bottleneck_expand_row(st, r, st->source_row, st->source->s.ow, scratch);
  }
  tcc_q_bottleneck_finish_row(st, i, y, plane, scratch);
}

void tcc_q_bottleneck_chain_s8(const int8_t *x, tcc_q_stage *last, int8_t *y,
                               int16_t *scratch) {
  tcc_q_stage *head = last;
  while (head->source != NULL) head = head->source;
  const tcc_q_bottleneck_shape s = last->s, hs = head->s;
  for (int32_t n = 0; n < s.n; ++n) {
    for (tcc_q_stage *st = last; st != NULL; st = st->source) st->next = 0;
    head->x = x + n * hs.c * hs.xh * hs.xw;
    int8_t *yn = y + n * s.o * s.oh * s.ow;
    for (int32_t i = 0; i < s.oh; ++i)
      tcc_q_bottleneck_row(last, i, yn + i * s.ow, s.oh * s.ow, scratch);
  }
}

void tcc_q_add_s8(const int8_t *a, const int8_t *b, int8_t *y, int32_t size,
                  tcc_q_add_params p) {
  tcc_q_add_s8_inline(a, b, y, size, p);
}

void tcc_q_avg_pool2d_s8(const int8_t *x, int8_t *y, tcc_q_pool_shape s) {
  tcc_q_avg_pool2d_s8_inline(x, y, s);
}

void tcc_q_global_avg_pool_s8(const int8_t *x, int8_t *y, int32_t nc, int32_t hw,
                              int32_t qmin, int32_t qmax, int32_t half_even) {
  tcc_q_global_avg_pool_s8_inline(x, y, nc, hw, qmin, qmax, half_even);
}

void tcc_dequantize_s8(const int8_t *x, float *y, int32_t size, double scale, int32_t zp) {
  tcc_dequantize_s8_inline(x, y, size, scale, zp);
}

void tcc_quantize_s8(const float *x, int8_t *y, int32_t size, double scale, int32_t zp,
                     int32_t qmin, int32_t qmax) {
  tcc_quantize_s8_inline(x, y, size, scale, zp, qmin, qmax);
}

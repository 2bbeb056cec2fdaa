/* Fit geometry and the separable resampler (see resize.h for the determinism contract). */
#if defined(__clang__)
/* clang fuses a * b + c into FMA by default where the target has it; GCC does not in -std=c11. */
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && !defined(__STRICT_ANSI__) && defined(__FP_FAST_FMAF)
#error "GNU C mode on an FMA target fuses a * b + c and changes the encoder's bytes: use -std=c11"
#endif
#include "resize.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "encode_internal.h"
#include "vec.h"

void rs_plan(uint32_t width, uint32_t height, uint32_t S, uint32_t P, sp_fit fit,
             sp_resample resample, const float pad[3], sp_preprocess *out) {
    memset(out, 0, sizeof *out);
    uint32_t g = S / P;
    out->fit = fit;
    out->resample = resample;
    for (int c = 0; c < 3; c++)
        out->pad[c] = pad[c];
    out->src_x = 0;
    out->src_y = 0;
    out->src_w = width;
    out->src_h = height;
    out->dst_x = out->dst_y = 0;
    out->dst_w = out->dst_h = S;
    out->grid_x = out->grid_y = 0;
    out->grid_w = out->grid_h = g;
    if (fit == SP_FIT_CROP) {
        uint32_t side = width < height ? width : height;
        out->src_x = (double)(width - side) / 2.0;
        out->src_y = (double)(height - side) / 2.0;
        out->src_w = out->src_h = side;
    } else if (fit == SP_FIT_LETTERBOX && width != height) {
        /* Cells along the shorter side: round(g * short / long), at least 1. */
        uint64_t lng = width > height ? width : height, shrt = width > height ? height : width;
        uint64_t cells = (2 * (uint64_t)g * shrt + lng) / (2 * lng);
        if (cells < 1)
            cells = 1;
        if (cells > g)
            cells = g;
        uint32_t off = (uint32_t)((g - cells) / 2);
        if (width > height) {
            out->dst_y = off * P;
            out->dst_h = (uint32_t)cells * P;
            out->grid_y = off;
            out->grid_h = (uint32_t)cells;
        } else {
            out->dst_x = off * P;
            out->dst_w = (uint32_t)cells * P;
            out->grid_x = off;
            out->grid_w = (uint32_t)cells;
        }
    }
}

void rs_axis_free(rs_axis *a) {
    sp_free(a->first);
    sp_free(a->count);
    sp_free(a->w);
    sp_free(a->wq);
    memset(a, 0, sizeof *a);
}

void rs_state_free(rs_state *st) {
    rs_axis_free(&st->x);
    rs_axis_free(&st->y);
    sp_free(st->row);
    sp_free((void *)st->rows);
    memset(st, 0, sizeof *st);
}

/* Cubic convolution kernel with a = -0.5 (Keys; what PIL and torch's antialiased bicubic use). */
static double cubic(double t) {
    const double a = -0.5;
    t = fabs(t);
    if (t < 1.0)
        return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    if (t < 2.0)
        return (((t - 5.0) * t + 8.0) * t - 4.0) * a;
    return 0.0;
}

/* Weight of source sample j (covering [j, j + 1)) for an output centred at c. */
static double tap_weight(sp_resample k, double j, double c, double scale, double fs) {
    double x = j + 0.5 - c;
    switch (k) {
        case SP_RESAMPLE_AREA:
            if (scale >= 1.0) {
                /* exact overlap of the pixel with the output's footprint [c - s/2, c + s/2] */
                double lo = c - 0.5 * scale, hi = c + 0.5 * scale;
                double a = j > lo ? j : lo, b = j + 1.0 < hi ? j + 1.0 : hi;
                return b > a ? b - a : 0.0;
            }
            return fabs(x) < 1.0 ? 1.0 - fabs(x) : 0.0; /* enlarging: bilinear */
        case SP_RESAMPLE_BILINEAR: {
            double t = fabs(x) / fs;
            return t < 1.0 ? 1.0 - t : 0.0;
        }
        case SP_RESAMPLE_BICUBIC:
            return cubic(x / fs);
    }
    return 0.0;
}

sp_status rs_axis_build(rs_axis *a, uint32_t in, double src0, double len, uint32_t n, sp_resample k,
                        sp_error *err) {
    rs_axis_free(a);
    double scale = len / n;
    double fs = scale > 1.0 ? scale : 1.0;
    double support = k == SP_RESAMPLE_BICUBIC ? 2.0 * fs
                     : k == SP_RESAMPLE_AREA  ? (scale >= 1.0 ? 0.5 * scale : 1.0)
                                              : fs;
    uint32_t max_taps = (uint32_t)ceil(2.0 * support) + 2;
    a->n = n;
    a->max_taps = max_taps;
    a->first = sp_alloc_array(n, sizeof *a->first);
    a->count = sp_alloc_array(n, sizeof *a->count);
    size_t nw;
    a->w = sp_mul_size(n, max_taps, &nw) ? sp_alloc_array(nw, sizeof *a->w) : NULL;
    if (!a->first || !a->count || !a->w) {
        rs_axis_free(a);
        return sp_error_set(err, SP_ERR_NOMEM, "resize: out of memory for %u x %u filter taps", n,
                            max_taps);
    }
    double wd[64 + 8];
    double *wbuf = wd;
    double *heap = NULL;
    if (max_taps > 64 + 8) {
        heap = sp_alloc_array(max_taps, sizeof *heap);
        if (!heap) {
            rs_axis_free(a);
            return sp_error_set(err, SP_ERR_NOMEM, "resize: out of memory for filter taps");
        }
        wbuf = heap;
    }
    a->lo = in;
    a->hi = 0;
    for (uint32_t i = 0; i < n; i++) {
        double c = src0 + (i + 0.5) * scale;
        double jlo = floor(c - support), jhi = ceil(c + support);
        if (jlo < 0)
            jlo = 0;
        if (jhi > in)
            jhi = in;
        uint32_t j0 = (uint32_t)jlo, j1 = (uint32_t)jhi;
        double sum = 0;
        uint32_t cnt = 0;
        for (uint32_t j = j0; j < j1 && cnt < max_taps; j++) {
            wbuf[cnt] = tap_weight(k, j, c, scale, fs);
            sum += wbuf[cnt++];
        }
        /* Drop zero weights at both ends so identity sizes copy exactly one sample. */
        uint32_t s = 0;
        while (s < cnt && wbuf[s] == 0.0)
            s++;
        while (cnt > s && wbuf[cnt - 1] == 0.0)
            cnt--;
        if (cnt == s || sum == 0.0) {
            /* Cannot happen for a centre inside the image; fall back to the nearest sample. */
            double nj = floor(c);
            if (nj < 0)
                nj = 0;
            if (nj > in - 1)
                nj = in - 1;
            a->first[i] = (uint32_t)nj;
            a->count[i] = 1;
            a->w[(size_t)i * max_taps] = 1.0f;
        } else {
            a->first[i] = j0 + s;
            a->count[i] = cnt - s;
            for (uint32_t t = s; t < cnt; t++)
                a->w[(size_t)i * max_taps + (t - s)] = (float)(wbuf[t] / sum);
        }
        if (a->first[i] < a->lo)
            a->lo = a->first[i];
        if (a->first[i] + a->count[i] > a->hi)
            a->hi = a->first[i] + a->count[i];
    }
    sp_free(heap);
    return SP_OK;
}

enum { Q_BITS = 14 };

sp_status rs_axis_quantize(rs_axis *a, sp_error *err) {
    uint32_t mt = (a->max_taps + 1) & ~1u;
    size_t nq;
    sp_free(a->wq);
    a->wq = sp_mul_size(a->n, mt, &nq) ? sp_alloc_array(nq, sizeof *a->wq) : NULL;
    if (!a->wq)
        return sp_error_set(err, SP_ERR_NOMEM, "resize: out of memory for %u x %u taps", a->n, mt);
    for (uint32_t i = 0; i < a->n; i++) {
        const float *w = a->w + (size_t)i * a->max_taps;
        int16_t *q = a->wq + (size_t)i * mt;
        int32_t sum = 0;
        uint32_t big = 0;
        for (uint32_t t = 0; t < a->count[i]; t++) {
            q[t] = (int16_t)floor((double)w[t] * (1 << Q_BITS) + 0.5);
            sum += q[t];
            if (q[t] > q[big])
                big = t;
        }
        /* the largest weight absorbs the rounding, so a flat area stays exactly flat */
        q[big] = (int16_t)(q[big] + ((1 << Q_BITS) - sum));
        for (uint32_t t = a->count[i]; t < mt; t++)
            q[t] = 0;
    }
    return SP_OK;
}

/* The portable integer pass over samples [j0, len). */
static void rs_vertical_pass_from(float *acc, const uint8_t *const *rows, const int16_t *wq,
                                  uint32_t taps, size_t j0, size_t len) {
    const float unq = 1.0f / (float)(1 << Q_BITS);
    for (size_t j = j0; j < len; j++) {
        int32_t s = 0;
        for (uint32_t t = 0; t < taps; t++)
            s += (int32_t)wq[t] * rows[t][j];
        acc[j] = (float)s * unq; /* |s| < 2^24: exact, and the scale is a power of two */
    }
}

void rs_vertical_pass_portable(float *acc, const uint8_t *const *rows, const int16_t *wq,
                               uint32_t taps, size_t len) {
    rs_vertical_pass_from(acc, rows, wq, taps, 0, len);
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* Two taps per _mm_madd_epi16: samples of rows t and t + 1 interleaved as 16-bit pairs times the
 * pair (wq[t], wq[t + 1]) summed into 32-bit lanes. Integer, hence identical to the portable code.
 */
void rs_vertical_pass(float *acc, const uint8_t *const *rows, const int16_t *wq, uint32_t taps,
                      size_t len) {
    const __m128i zero = _mm_setzero_si128();
    const __m128 unq = _mm_set1_ps(1.0f / (float)(1 << Q_BITS));
    size_t j = 0;
    for (; j + 16 <= len; j += 16) {
        __m128i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
        for (uint32_t t = 0; t < taps; t += 2) {
            uint32_t pair = (uint32_t)(uint16_t)wq[t] | ((uint32_t)(uint16_t)wq[t + 1] << 16);
            __m128i wp = _mm_set1_epi32((int32_t)pair);
            __m128i x = _mm_loadu_si128((const __m128i *)(rows[t] + j));
            __m128i y = _mm_loadu_si128((const __m128i *)(rows[t + 1] + j));
            __m128i xl = _mm_unpacklo_epi8(x, zero), xh = _mm_unpackhi_epi8(x, zero);
            __m128i yl = _mm_unpacklo_epi8(y, zero), yh = _mm_unpackhi_epi8(y, zero);
            a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(xl, yl), wp));
            a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(xl, yl), wp));
            a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi16(xh, yh), wp));
            a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi16(xh, yh), wp));
        }
        _mm_storeu_ps(acc + j, _mm_mul_ps(_mm_cvtepi32_ps(a0), unq));
        _mm_storeu_ps(acc + j + 4, _mm_mul_ps(_mm_cvtepi32_ps(a1), unq));
        _mm_storeu_ps(acc + j + 8, _mm_mul_ps(_mm_cvtepi32_ps(a2), unq));
        _mm_storeu_ps(acc + j + 12, _mm_mul_ps(_mm_cvtepi32_ps(a3), unq));
    }
    rs_vertical_pass_from(acc, rows, wq, taps, j, len);
}
#else
void rs_vertical_pass(float *acc, const uint8_t *const *rows, const int16_t *wq, uint32_t taps,
                      size_t len) {
    rs_vertical_pass_portable(acc, rows, wq, taps, len);
}
#endif

static int same_plan(const rs_state *st, const sp_image *img, uint32_t bpp,
                     const sp_preprocess *pre) {
    return st->valid && st->width == img->width && st->height == img->height && st->bpp == bpp &&
           st->pre.resample == pre->resample && st->pre.src_x == pre->src_x &&
           st->pre.src_y == pre->src_y && st->pre.src_w == pre->src_w &&
           st->pre.src_h == pre->src_h && st->pre.dst_w == pre->dst_w &&
           st->pre.dst_h == pre->dst_h;
}

static sp_status prepare(rs_state *st, const sp_image *img, uint32_t bpp, const sp_preprocess *pre,
                         sp_error *err) {
    if (same_plan(st, img, bpp, pre))
        return SP_OK;
    st->valid = 0;
    sp_status s =
        rs_axis_build(&st->x, img->width, pre->src_x, pre->src_w, pre->dst_w, pre->resample, err);
    if (!s)
        s = rs_axis_build(&st->y, img->height, pre->src_y, pre->src_h, pre->dst_h, pre->resample,
                          err);
    if (!s)
        s = rs_axis_quantize(&st->y, err);
    if (s)
        return s;
    /* one spare float: the horizontal pass loads 4 floats per 3-byte pixel */
    size_t row = (size_t)(st->x.hi - st->x.lo) * bpp + 1;
    if (row > st->row_cap) {
        sp_free(st->row);
        st->row_cap = 0;
        st->row = sp_alloc_array(row, sizeof *st->row);
        if (!st->row)
            return sp_error_set(err, SP_ERR_NOMEM, "resize: out of memory for a %zu-sample row",
                                row);
        st->row_cap = row;
    }
    size_t even_taps = (st->y.max_taps + 1) & ~1u;
    if (even_taps > st->rows_cap) {
        sp_free((void *)st->rows);
        st->rows_cap = 0;
        st->rows = sp_alloc_array(even_taps, sizeof *st->rows);
        if (!st->rows)
            return sp_error_set(err, SP_ERR_NOMEM, "resize: out of memory for row pointers");
        st->rows_cap = even_taps;
    }
    st->width = img->width;
    st->height = img->height;
    st->bpp = bpp;
    st->pre = *pre;
    st->valid = 1;
    return SP_OK;
}

static void fill_span(float *p, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

static void fill_padding(const sp_preprocess *pre, uint32_t S, const float pad_value[3],
                         float *planes) {
    if (pre->dst_x == 0 && pre->dst_y == 0 && pre->dst_w == S && pre->dst_h == S)
        return;
    uint32_t x1 = pre->dst_x + pre->dst_w, y1 = pre->dst_y + pre->dst_h;
    for (int c = 0; c < 3; c++) {
        float *p = planes + (size_t)c * S * S, v = pad_value[c];
        fill_span(p, (size_t)pre->dst_y * S, v);
        fill_span(p + (size_t)y1 * S, (size_t)(S - y1) * S, v);
        for (uint32_t y = pre->dst_y; y < y1; y++) {
            fill_span(p + (size_t)y * S, pre->dst_x, v);
            fill_span(p + (size_t)y * S + x1, S - x1, v);
        }
    }
}

sp_status rs_run(rs_state *st, const sp_image *img, const sp_preprocess *pre, uint32_t S,
                 const float scale[3], const float bias[3], const float pad_value[3], float *planes,
                 sp_error *err) {
    uint32_t bpp = (uint32_t)sp_pixfmt_bpp(img->format);
    sp_status s = prepare(st, img, bpp, pre, err);
    if (s)
        return s;
    size_t off[3];
    enc_pixfmt_offsets(img->format, off);
    fill_padding(pre, S, pad_value, planes);
    const rs_axis *ax = &st->x, *ay = &st->y;
    size_t row_len = (size_t)(ax->hi - ax->lo) * bpp;
    const uint8_t *base = img->data + (size_t)ax->lo * bpp;
    st->row[row_len] = 0.0f; /* the spare lane read after the last 3-byte pixel */
    for (uint32_t yo = 0; yo < ay->n; yo++) {
        uint32_t taps = ay->count[yo], even = (taps + 1) & ~1u, mt = (ay->max_taps + 1) & ~1u;
        for (uint32_t t = 0; t < even; t++) {
            /* a padding tap (weight 0) repeats the last row: always a valid pointer */
            uint32_t yi = ay->first[yo] + (t < taps ? t : taps - 1);
            st->rows[t] = base + (size_t)yi * img->stride;
        }
        rs_vertical_pass(st->row, st->rows, ay->wq + (size_t)yo * mt, even, row_len);
        size_t out_row = (size_t)(pre->dst_y + yo) * S + pre->dst_x;
        float *p0 = planes + out_row, *p1 = p0 + (size_t)S * S, *p2 = p1 + (size_t)S * S;
        /* Horizontal pass: per output pixel, a weighted sum of whole source pixels (one 4-float
         * vector each: R, G, B and the padding byte or the next pixel's first sample, unused). */
        for (uint32_t xo = 0; xo < ax->n; xo++) {
            const float *w = ax->w + (size_t)xo * ax->max_taps;
            const float *src = st->row + (size_t)(ax->first[xo] - ax->lo) * bpp;
            v4f s = v4_splat(w[0]) * v4_load(src);
            for (uint32_t t = 1; t < ax->count[xo]; t++)
                s += v4_splat(w[t]) * v4_load(src + (size_t)t * bpp);
            float px[4];
            v4_store(px, s);
            p0[xo] = px[off[0]] * scale[0] + bias[0];
            p1[xo] = px[off[1]] * scale[1] + bias[1];
            p2[xo] = px[off[2]] * scale[2] + bias[2];
        }
    }
    return SP_OK;
}

/* Cosine similarities through OpenBLAS, filled into an n x n cache block by block, so that GSP
 * rounds and QCSP kernel rows reuse every product already computed (docs/algorithm.md, "Cost").
 * Products run on the raw rows; the scatter into the cache applies the inverse norms. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "similarity.h"
#include "workspace.h"

/* Norms outside this range go through a normalised copy: raw products could overflow float (or
 * lose bits to subnormals) long before the cosines themselves are in trouble. */
#define SP_RAW_NORM_MAX 1e15
#define SP_RAW_NORM_MIN 1e-15

void sp_normalize_rows(const float *x, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * d;
        /* Scale by the largest magnitude first so the sum of squares cannot overflow. */
        float amax = 0.0f;
        for (size_t j = 0; j < d; j++)
            amax = fmaxf(amax, fabsf(row[j]));
        float *o = out + i * d;
        if (amax == 0.0f) {
            memset(o, 0, d * sizeof(float));
            continue;
        }
        double ss = 0.0, sc = 1.0 / (double)amax;
        for (size_t j = 0; j < d; j++) {
            double v = row[j] * sc;
            ss += v * v;
        }
        double norm = sqrt(ss) * (double)amax;
        double inv = 1.0 / (norm > 1e-12 ? norm : 1e-12);
        for (size_t j = 0; j < d; j++)
            o[j] = (float)(row[j] * inv);
    }
}

/* Inverse norm from a sum of squares ss, into *inv (1 / max(norm, 1e-12)). Norms outside the raw
 * range are flagged extreme, as is a non-finite ss from finite values (overflow). A NaN/Inf is an
 * input error, reported at the first bad value of the frame x (n x d), whichever row was being
 * measured. A row whose squares underflow to 0 has a norm far below the 1e-12 floor: it is a
 * zero row for the method either way. */
static sp_status norm_from_square(float ss, const float *x, size_t n, size_t d, const char *what,
                                  float *inv, bool *extreme, sp_error *err) {
    if (!isfinite(ss)) {
        sp_status st = sp_check_finite(x, 0, n, d, what, err);
        if (st)
            return st;
        *extreme = true;
        *inv = 1.0f;
        return SP_OK;
    }
    double norm = sqrt((double)ss);
    if (norm > SP_RAW_NORM_MAX || (norm > 0.0 && norm < SP_RAW_NORM_MIN))
        *extreme = true;
    *inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
    return SP_OK;
}

/* Measures rows first, first + step, ... of x into inv (see norm_from_square). */
static sp_status measure_rows(const float *x, size_t n, size_t d, size_t first, size_t step,
                              float *inv, bool *extreme, const char *what, sp_error *err) {
    for (size_t i = first; i < n; i += step) {
        const float *row = x + i * d;
        /* One vectorised pass gives the norm. It is memory bound; a second thread for it
         * measured slower, not faster, as it competes with the BLAS workers still spinning from
         * the previous product. */
        float ss = cblas_sdot((int)d, row, 1, row, 1);
        sp_status st = norm_from_square(ss, x, n, d, what, &inv[i], extreme, err);
        if (st)
            return st;
    }
    return SP_OK;
}

/* Switches rows to a normalised copy of their frame (extreme norms), inverse norms all one. */
static sp_status use_normalised_copy(sp_workspace *ws, sp_ws_slot copy_slot, sp_rows *rows,
                                     float *inv, sp_error *err) {
    size_t n = rows->n, d = rows->d;
    float *copy = sp_ws_array(ws, copy_slot, n, d * sizeof(float));
    if (!copy)
        return sp_err_nomem(err, "normalised rows", n * d * sizeof(float));
    sp_normalize_rows(rows->x, n, d, copy);
    for (size_t i = 0; i < n; i++)
        inv[i] = 1.0f;
    rows->x = copy;
    rows->odd_pending = false;
    return SP_OK;
}

static sp_status prepare_rows(sp_workspace *ws, const float *x, size_t n, size_t d,
                              sp_ws_slot inv_slot, sp_ws_slot copy_slot, const char *what,
                              bool defer_odd, sp_rows *out, sp_error *err) {
    if (n > INT32_MAX || d > INT32_MAX)
        return sp_error_set(err, SP_ERR_OVERFLOW, "%s matrix %zu x %zu exceeds BLAS dimensions",
                            what, n, d);
    float *inv = sp_ws_array(ws, inv_slot, n, sizeof(float));
    if (!inv)
        return sp_err_nomem(err, "row norms", n * sizeof(float));
    *out = (sp_rows){.x = x, .inv = inv, .n = n, .d = d, .what = what, .copy_slot = copy_slot};
    bool extreme = false;
    sp_status st = measure_rows(x, n, d, 0, defer_odd ? 2 : 1, inv, &extreme, what, err);
    if (st)
        return st;
    out->odd_pending = defer_odd && n > 1 && !extreme;
    if (defer_odd && !out->odd_pending) {
        st = measure_rows(x, n, d, 1, 2, inv, &extreme, what, err);
        if (st)
            return st;
    }
    return extreme ? use_normalised_copy(ws, copy_slot, out, inv, err) : SP_OK;
}

sp_status sp_rows_finish(sp_workspace *ws, sp_rows *rows, sp_error *err) {
    if (!rows->odd_pending)
        return SP_OK;
    bool extreme = false;
    float *inv = (float *)rows->inv;
    sp_status st = measure_rows(rows->x, rows->n, rows->d, 1, 2, inv, &extreme, rows->what, err);
    rows->odd_pending = false;
    if (!st && extreme)
        st = use_normalised_copy(ws, rows->copy_slot, rows, inv, err);
    return st;
}

sp_status sp_rows_prepare(sp_workspace *ws, const float *x, size_t n, size_t d, sp_ws_slot inv_slot,
                          sp_ws_slot copy_slot, const char *what, sp_rows *out, sp_error *err) {
    return prepare_rows(ws, x, n, d, inv_slot, copy_slot, what, false, out, err);
}

sp_status sp_rows_prepare_for_gsp(sp_workspace *ws, const float *x, size_t n, size_t d,
                                  sp_rows *out, sp_error *err) {
    return prepare_rows(ws, x, n, d, SP_WS_NORMS, SP_WS_XN, "token", true, out, err);
}

/* When the indices form an arithmetic progression the rows can be passed to BLAS in place with a
 * leading dimension of stride * d (the even/odd split of a whole frame); otherwise they are
 * gathered into a contiguous scratch matrix. */
static const float *rows_for_blas(sp_workspace *ws, sp_ws_slot slot, const sp_rows *r,
                                  const uint32_t *idx, size_t cnt, size_t *ld) {
    size_t stride = cnt > 1 && idx[1] > idx[0] ? (size_t)(idx[1] - idx[0]) : 1;
    bool progression = true;
    for (size_t i = 1; progression && i < cnt; i++)
        progression = idx[i] > idx[i - 1] && (size_t)(idx[i] - idx[i - 1]) == stride;
    if (progression && stride * r->d <= (size_t)INT32_MAX) {
        *ld = stride * r->d;
        return r->x + (size_t)idx[0] * r->d;
    }
    float *buf = sp_ws_array(ws, slot, cnt, r->d * sizeof(float));
    if (!buf)
        return NULL;
    for (size_t i = 0; i < cnt; i++)
        memcpy(buf + i * r->d, r->x + (size_t)idx[i] * r->d, r->d * sizeof(float));
    *ld = r->d;
    return buf;
}

static sp_status blas_dims_ok(size_t a, size_t b, size_t d, sp_error *err) {
    if (a > (size_t)INT32_MAX || b > (size_t)INT32_MAX || d > (size_t)INT32_MAX)
        return sp_error_set(err, SP_ERR_OVERFLOW,
                            "similarity product of %zu x %zu x %zu exceeds BLAS int dimensions", a,
                            b, d);
    return SP_OK;
}

enum { TILE = 32 };

/* Below this many rows strips of SGEMMs beat SSYRK on 2 threads (see sp_sim_within). */
#define SP_SYRK_MIN_ROWS 192
#define SP_STRIP_ROWS 48

sp_status sp_sim_use_bipartite_layout(sp_workspace *ws, sp_sim *s, sp_error *err) {
    size_t n = s->rows.n, even = (n + 1) / 2;
    uint32_t *pos = sp_ws_array(ws, SP_WS_POS, n, sizeof(uint32_t));
    float *pos_inv = sp_ws_array(ws, SP_WS_POS_INV, n, sizeof(float));
    if (!pos || !pos_inv)
        return sp_err_nomem(err, "similarity cache layout", n * 8);
    for (size_t t = 0; t < n; t++) {
        pos[t] = (uint32_t)(t % 2 == 0 ? t / 2 : even + t / 2);
        pos_inv[pos[t]] = s->rows.inv[t];
    }
    s->pos = pos;
    s->pos_inv = pos_inv;
    return SP_OK;
}

/* Position of the first index when idx[cnt] sits at consecutive increasing positions of the
 * bipartite layout, else SIZE_MAX: such a set's products can be written into the cache in place. */
static size_t contiguous_position(const sp_sim *s, const uint32_t *idx, size_t cnt) {
    if (!s->pos)
        return SIZE_MAX;
    for (size_t i = 1; i < cnt; i++)
        if (s->pos[idx[i]] != s->pos[idx[0]] + i)
            return SIZE_MAX;
    return s->pos[idx[0]];
}

/* Scales a product written in place at positions [p0, p0 + na) x [q0, q0 + nb) of a bipartite
 * cache into cosines; `upper` keeps to q >= p. */
static void scale_in_place(sp_sim *s, size_t p0, size_t na, size_t q0, size_t nb, bool upper) {
    size_t n = s->rows.n;
    const float *inv = s->pos_inv;
    for (size_t i = 0; i < na; i++) {
        float *gi = s->g + (p0 + i) * n;
        float ai = inv[p0 + i];
        for (size_t j = upper ? i : 0; j < nb; j++)
            gi[q0 + j] = gi[q0 + j] * ai * inv[q0 + j];
    }
}

/* S(ia[i], ia[j]) = block[i][j] * inv[ia[i]] * inv[ia[j]] into the cache for j >= i (a triangle
 * product over the rows ia, upper part of block valid). The natural layout stores both (i, j)
 * and (j, i), the bipartite one the upper triangle in positions. Tiles keep the transposed writes
 * in cache. */
static void scatter_triangle(sp_sim *s, const float *block, size_t ldb, const uint32_t *ia,
                             size_t na) {
    const float *inv = s->rows.inv;
    size_t n = s->rows.n;
    if (s->pos) {
        for (size_t i = 0; i < na; i++) {
            float ai = inv[ia[i]];
            size_t p = s->pos[ia[i]];
            for (size_t j = i; j < na; j++) {
                size_t q = s->pos[ia[j]];
                float v = block[i * ldb + j] * ai * inv[ia[j]];
                if (p <= q)
                    s->g[p * n + q] = v;
                else
                    s->g[q * n + p] = v;
            }
        }
        return;
    }
    for (size_t i0 = 0; i0 < na; i0 += TILE) {
        size_t i1 = i0 + TILE < na ? i0 + TILE : na;
        for (size_t j0 = i0; j0 < na; j0 += TILE) {
            size_t j1 = j0 + TILE < na ? j0 + TILE : na;
            for (size_t i = i0; i < i1; i++) {
                float ai = inv[ia[i]];
                float *gi = s->g + (size_t)ia[i] * n;
                for (size_t j = j0 < i ? i : j0; j < j1; j++)
                    gi[ia[j]] = block[i * ldb + j] * ai * inv[ia[j]];
            }
            for (size_t j = j0; j < j1; j++) {
                float *gj = s->g + (size_t)ia[j] * n;
                for (size_t i = i0; i < i1 && i <= j; i++)
                    gj[ia[i]] = s->g[(size_t)ia[i] * n + ia[j]];
            }
        }
    }
}

/* The upper triangle (diagonal included) of a a^T for na rows of a (leading dimension lda) into
 * out (leading dimension ldo), unscaled. */
static void triangle_product(const float *a, size_t lda, size_t na, size_t d, float *out,
                             size_t ldo) {
    if (na > SP_SYRK_MIN_ROWS) {
        /* SSYRK computes one triangle: half the multiply-adds of the equivalent SGEMM. */
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)na, (int)d, 1.0f, a, (int)lda,
                    0.0f, out, (int)ldo);
        return;
    }
    /* OpenBLAS runs small SSYRKs on one thread. Strips of SP_STRIP_ROWS rows against the columns
     * from their diagonal on, one SGEMM each, use both threads and skip most of the lower
     * triangle: at 144 x 4096 0.79 ms against 1.0 for the square SGEMM and 1.16 for SSYRK
     * (docs/algorithm.md, "Cost"). They also write the lower part of each diagonal square, which
     * neither layout reads from here (scatter_triangle takes j >= i; the bipartite layout keeps the
     * upper triangle). */
    for (size_t i0 = 0; i0 < na; i0 += SP_STRIP_ROWS) {
        size_t rows = na - i0 < SP_STRIP_ROWS ? na - i0 : SP_STRIP_ROWS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)(na - i0), (int)d,
                    1.0f, a + i0 * lda, (int)lda, a + i0 * lda, (int)lda, 0.0f, out + i0 * ldo + i0,
                    (int)ldo);
    }
}

sp_status sp_sim_within(sp_workspace *ws, sp_sim *s, const uint32_t *ia, size_t na, sp_error *err) {
    if (na == 0)
        return SP_OK;
    size_t d = s->rows.d, n = s->rows.n;
    sp_status st = blas_dims_ok(na, na, d, err);
    if (st)
        return st;
    size_t lda = 0;
    const float *a = rows_for_blas(ws, SP_WS_GATHER_A, &s->rows, ia, na, &lda);
    if (!a)
        return sp_err_nomem(err, "similarity operand", na * d * sizeof(float));
    size_t p0 = contiguous_position(s, ia, na);
    bool in_place = p0 != SIZE_MAX && n <= (size_t)INT32_MAX;
    float *out =
        in_place ? s->g + p0 * n + p0 : sp_ws_array(ws, SP_WS_BLOCK, na, na * sizeof(float));
    size_t ldo = in_place ? n : na;
    if (!out)
        return sp_err_nomem(err, "similarity block", na * na * sizeof(float));
    triangle_product(a, lda, na, d, out, ldo);
    if (in_place)
        scale_in_place(s, p0, na, p0, na, true);
    else
        scatter_triangle(s, out, na, ia, na);
    return SP_OK;
}

sp_status sp_sim_round1(sp_workspace *ws, sp_sim *s, bool with_triangle, sp_error *err) {
    sp_rows *rows = &s->rows;
    size_t n = rows->n, d = rows->d, even = (n + 1) / 2, odd = n / 2;
    float *inv = (float *)rows->inv;
    sp_status st = blas_dims_ok(2 * d, n, d, err);
    if (st)
        return st;
    if (rows->odd_pending && !with_triangle) {
        /* No triangle to read the odd norms from: measure them. */
        st = sp_rows_finish(ws, rows, err);
        if (st)
            return st;
    }
    /* Round 1 pairs every even token with every odd one: the even rows and the odd rows of the
     * frame, each with a leading dimension of 2d, are BLAS operands as they are, and the
     * products land in place: S(A, B) at positions [0, even) x [even, n), the odd triangle at
     * [even, n)^2. */
    float *cross = s->g + even, *tri = s->g + even * n + even;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)even, (int)odd, (int)d, 1.0f, rows->x,
                (int)(2 * d), rows->x + d, (int)(2 * d), 0.0f, cross, (int)n);
    if (with_triangle)
        triangle_product(rows->x + d, 2 * d, odd, d, tri, n);
    if (rows->odd_pending) {
        /* The odd x odd diagonal holds the odd rows' squared norms: the sdot pass over them is
         * saved (half of a memory-bound pass, 0.2 ms at 576 x 4096). */
        bool extreme = false;
        for (size_t i = 0; i < odd && !st; i++)
            st = norm_from_square(tri[i * n + i], rows->x, n, d, rows->what, &inv[2 * i + 1],
                                  &extreme, err);
        if (st)
            return st;
        rows->odd_pending = false;
        if (extreme) {
            /* Raw products may have overflowed: redo them on the normalised copy. */
            st = use_normalised_copy(ws, rows->copy_slot, rows, inv, err);
            return st ? st : sp_sim_round1(ws, s, with_triangle, err);
        }
    }
    /* The norms are final only now: refresh their copy in position order before scaling. */
    st = sp_sim_use_bipartite_layout(ws, s, err);
    if (st)
        return st;
    scale_in_place(s, 0, even, even, odd, false);
    if (with_triangle)
        scale_in_place(s, even, odd, even, odd, true);
    return SP_OK;
}

sp_status sp_sim_full(sp_workspace *ws, sp_sim *s, sp_error *err) {
    size_t n = s->rows.n;
    const float *inv = s->rows.inv;
    sp_status st = blas_dims_ok(n, n, s->rows.d, err);
    if (st)
        return st;
    float *g = sp_ws_array(ws, SP_WS_GRAM, n, n * sizeof(float));
    if (!g)
        return sp_err_nomem(err, "similarity matrix", n * n * sizeof(float));
    s->g = g;
    s->pos = NULL;
    s->pos_inv = NULL;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)s->rows.d, 1.0f, s->rows.x,
                (int)s->rows.d, 0.0f, g, (int)n);
    /* Scale the upper triangle in place, then mirror it tile by tile. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++)
            g[i * n + j] *= inv[i] * inv[j];
    for (size_t i0 = 0; i0 < n; i0 += TILE)
        for (size_t j0 = 0; j0 <= i0; j0 += TILE)
            for (size_t i = i0; i < i0 + TILE && i < n; i++)
                for (size_t j = j0; j < j0 + TILE && j < i; j++)
                    g[i * n + j] = g[j * n + i];
    return SP_OK;
}

sp_status sp_sim_frame(sp_workspace *ws, const sp_frame *f, sp_sim *s, sp_error *err) {
    sp_status st =
        sp_rows_prepare(ws, f->tokens, f->n, f->d, SP_WS_NORMS, SP_WS_XN, "token", &s->rows, err);
    return st ? st : sp_sim_full(ws, s, err);
}

#include "scriptprune/frame.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

void sp_frame_view(sp_frame *f, const float *tokens, size_t n, size_t d) {
    f->tokens = tokens;
    f->n = n;
    f->d = d;
    f->embed = NULL;
    f->e = 0;
    size_t side = (size_t)llround(sqrt((double)n));
    if (side * side == n && side <= UINT32_MAX) {
        f->grid_h = (uint32_t)side;
        f->grid_w = (uint32_t)side;
    } else {
        f->grid_h = 1;
        f->grid_w = n <= UINT32_MAX ? (uint32_t)n : 0;
    }
    f->pts = SP_PTS_NONE;
    f->image_y = f->image_x = f->image_h = f->image_w = 0;
    f->own_d = 0;
    f->evidence = NULL;
}

int sp_frame_is_padding(const sp_frame *f, size_t p) {
    if (f->image_h == 0 || f->image_w == 0 || f->grid_w == 0)
        return 0;
    size_t y = p / f->grid_w, x = p % f->grid_w;
    return y < f->image_y || y - f->image_y >= f->image_h || x < f->image_x ||
           x - f->image_x >= f->image_w;
}

/* Exponent bits all ones: infinity or NaN. */
#define SP_F32_EXP_MASK 0x7f800000u

sp_status sp_check_finite(const float *x, size_t row0, size_t n, size_t d, const char *what,
                          sp_error *err) {
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * d;
        /* Branch-free max of the exponent fields vectorises; the slow scan runs only on failure. */
        uint32_t worst = 0;
        for (size_t j = 0; j < d; j++) {
            uint32_t bits;
            memcpy(&bits, &row[j], sizeof bits);
            bits &= SP_F32_EXP_MASK;
            worst = bits > worst ? bits : worst;
        }
        if (worst != SP_F32_EXP_MASK)
            continue;
        for (size_t j = 0; j < d; j++)
            if (!isfinite(row[j]))
                return sp_error_set(err, SP_ERR_INVALID, "%s row %zu column %zu is %s", what,
                                    row0 + i, j, isnan(row[j]) ? "NaN" : "infinite");
    }
    return SP_OK;
}

sp_status sp_frame_validate_shape(const sp_frame *f, sp_error *err) {
    if (!f)
        return sp_error_set(err, SP_ERR_INVALID, "frame is NULL");
    if (f->n == 0)
        return sp_error_set(err, SP_ERR_INVALID, "frame has no tokens (N = 0)");
    if (f->d == 0)
        return sp_error_set(err, SP_ERR_INVALID, "tokens have dimension 0 (D = 0)");
    size_t bytes;
    if (!sp_mul3_size(f->n, f->d, sizeof(float), &bytes) || bytes > (size_t)PTRDIFF_MAX)
        return sp_error_set(err, SP_ERR_OVERFLOW,
                            "token matrix of %zu x %zu floats does not fit in memory addressing",
                            f->n, f->d);
    if (!f->tokens)
        return sp_error_set(err, SP_ERR_INVALID, "frame of %zu x %zu tokens has no data", f->n,
                            f->d);
    if ((uint64_t)f->grid_h * (uint64_t)f->grid_w != (uint64_t)f->n)
        return sp_error_set(err, SP_ERR_INVALID,
                            "grid %u x %u holds %llu tokens but the frame has N = %zu", f->grid_h,
                            f->grid_w, (unsigned long long)f->grid_h * f->grid_w, f->n);
    if (f->image_h && f->image_w &&
        ((uint64_t)f->image_y + f->image_h > f->grid_h ||
         (uint64_t)f->image_x + f->image_w > f->grid_w))
        return sp_error_set(err, SP_ERR_INVALID,
                            "picture rectangle rows [%u, %llu) x columns [%u, %llu) is outside the "
                            "%u x %u grid",
                            f->image_y, (unsigned long long)f->image_y + f->image_h, f->image_x,
                            (unsigned long long)f->image_x + f->image_w, f->grid_h, f->grid_w);
    if (f->own_d >= f->d)
        return sp_error_set(err, SP_ERR_INVALID,
                            "own_d = %zu: the cell's own dimensions must leave some of the d = %zu "
                            "for its surroundings (0: not split)",
                            f->own_d, f->d);
    if (f->evidence)
        for (size_t p = 0; p < f->n; p++) {
            const sp_pixel_evidence *v = &f->evidence[p];
            if (v->verdict > SP_PIXELS_NEW)
                return sp_error_set(err, SP_ERR_INVALID,
                                    "pixel evidence of token %zu: verdict %u is not one of 0 "
                                    "(unknown), 1 (seen), 2 (new)",
                                    p, (unsigned)v->verdict);
            if (v->verdict == SP_PIXELS_SEEN && !(isfinite(v->dy) && isfinite(v->dx)))
                return sp_error_set(err, SP_ERR_INVALID,
                                    "pixel evidence of token %zu: displacement (%g, %g) is not "
                                    "finite",
                                    p, (double)v->dy, (double)v->dx);
        }
    if (f->embed) {
        if (f->e == 0)
            return sp_error_set(err, SP_ERR_INVALID, "embeddings have dimension 0 (E = 0)");
        if (!sp_mul3_size(f->n, f->e, sizeof(float), &bytes) || bytes > (size_t)PTRDIFF_MAX)
            return sp_error_set(err, SP_ERR_OVERFLOW,
                                "embedding matrix of %zu x %zu floats is too large", f->n, f->e);
    }
    return SP_OK;
}

sp_status sp_frame_validate(const sp_frame *f, sp_error *err) {
    sp_status st = sp_frame_validate_shape(f, err);
    if (st == SP_OK)
        st = sp_check_finite(f->tokens, 0, f->n, f->d, "token", err);
    if (st == SP_OK && f->embed)
        st = sp_check_finite(f->embed, 0, f->n, f->e, "embedding", err);
    return st;
}

sp_status sp_query_validate(const sp_query *q, size_t expect_e, sp_error *err) {
    if (!q || q->m == 0)
        return SP_OK;
    if (!q->rows)
        return sp_error_set(err, SP_ERR_INVALID, "query of %zu rows has no data", q->m);
    if (q->e != expect_e)
        return sp_error_set(err, SP_ERR_INVALID,
                            "query rows have width %zu but the frame's relevance embeddings have "
                            "width %zu",
                            q->e, expect_e);
    size_t bytes;
    if (!sp_mul3_size(q->m, q->e, sizeof(float), &bytes))
        return sp_error_set(err, SP_ERR_OVERFLOW, "query of %zu x %zu floats is too large", q->m,
                            q->e);
    return sp_check_finite(q->rows, 0, q->m, q->e, "query", err);
}

const float *sp_frame_relevance_rows(const sp_frame *f, size_t *width) {
    if (f->embed) {
        *width = f->e;
        return f->embed;
    }
    *width = f->d;
    return f->tokens;
}
